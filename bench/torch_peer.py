"""PyTorch peer (optional): the same shapes, data and weights as the Node jobs, on the CPU.

Run by bench/main.mjs only when `python3 -c "import torch"` works; never a dependency of cellstate.
Usage: python3 bench/torch_peer.py '<job json>'; prints one `@@RESULT {json}` line.
Inputs and weights are regenerated with the same mulberry32 generator and seeds as bench/lib/data.mjs.
"""
import json
import platform
import resource
import sys
import time

import torch

CONFIGS = {
    "seed": dict(B=64, T=100, F=300, H=16, oneHot=True),
    "medium": dict(B=64, T=100, F=128, H=128, oneHot=False),
    "large": dict(B=32, T=200, F=256, H=512, oneHot=False),
}


def rng(seed):
    a = seed & 0xFFFFFFFF

    def imul(x, y):
        return (x * y) & 0xFFFFFFFF

    def nxt():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return nxt


def uniform(n, lo, hi, seed):
    r = rng(seed)
    return torch.tensor([lo + (hi - lo) * r() for _ in range(n)], dtype=torch.float32)


def make_data(c):
    B, T, F = c["B"], c["T"], c["F"]
    if c["oneHot"]:
        r = rng(11)
        ids = torch.tensor([int(r() * F) for _ in range(B * T)])
        x = torch.nn.functional.one_hot(ids, F).float().reshape(B, T, F)
    else:
        x = uniform(B * T * F, -1, 1, 11).reshape(B, T, F)
    r = rng(13)
    y = torch.tensor([0.0 if r() < 0.5 else 1.0 for _ in range(B)]).reshape(B, 1)
    return x, y


def main():
    job = json.loads(sys.argv[1])
    c = dict(CONFIGS[job["config"]])
    if job.get("batch"):
        c["B"] = job["batch"]
    B, T, F, H = c["B"], c["T"], c["F"], c["H"]
    torch.set_num_threads(job["threads"])
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(F, H, batch_first=True)
    k = 1 / H**0.5
    with torch.no_grad():
        for name, n, seed in (("weight_ih_l0", 4 * H * F, 101), ("weight_hh_l0", 4 * H * H, 102), ("bias_ih_l0", 4 * H, 103), ("bias_hh_l0", 4 * H, 104)):
            p = getattr(lstm, name)
            p.copy_(uniform(n, -k, k, seed).reshape(p.shape))
    x, y = make_data(c)
    check = {"status": "none", "why": "no reference h_T file"}
    ref_path = job.get("referencePath")
    if ref_path:
        with open(ref_path + ".hN.f32", "rb") as f:
            ref = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
        rows = ref.numel() // H
        with torch.no_grad():
            _, (h, _) = lstm(x[:rows])
        diff = (h.reshape(-1) - ref).abs()
        ok = bool((diff <= 1e-3 + 1e-2 * ref.abs()).all())
        check = {"ok": ok, "status": "passed" if ok else "failed", "against": "cellstate scalar reference (h_T, same weights)", "rows": rows, "maxAbs": float(diff.max())}
    if job["mode"] == "train":
        head = torch.nn.Linear(H, 1)
        opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def step():
            opt.zero_grad()
            _, (h, _) = lstm(x)
            loss = loss_fn(head(h[-1]), y)
            loss.backward()
            opt.step()

        label = "full train step (LSTM, Linear(1), BCEWithLogits, Adam)"
    else:

        def step():
            with torch.inference_mode():
                lstm(x)

        label = "LSTM forward (inference_mode)"
    budget, repeats = job["budgetS"], job["repeats"]
    t0 = time.perf_counter()
    step()
    warm = time.perf_counter() - t0
    cold = warm > budget
    times = [warm]
    if not cold:
        inner = max(1, int(0.05 / warm + 0.999))
        n = max(1, min(repeats, int(budget / (warm * inner))))
        times = []
        for _ in range(n):
            t = time.perf_counter()
            for _ in range(inner):
                step()
            times.append((time.perf_counter() - t) / inner)
    times.sort()
    med = times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    fwd = 2 * T * 4 * H * (F + H)
    flops = 3 * fwd if job["mode"] == "train" else fwd
    print("@@RESULT " + json.dumps({
        **job, "batch": B, "engine": "pytorch", "backend": f"torch {torch.__version__} cpu", "kernels": torch.backends.cpu.get_cpu_capability(),
        "threads": job["threads"], "label": label, "input": "dense one-hot" if c["oneHot"] else "dense",
        "runtime": f"python {platform.python_version()}, torch {torch.__version__}", "status": "ok", "check": check,
        "samplesPerStep": B, "secondsPerStep": {"median": med, "min": times[0], "max": times[-1], "spread": (times[-1] - times[0]) / med if len(times) > 1 else None, "n": len(times)},
        "repeats": len(times), "cold": cold, "samplesPerSecond": B / med, "gflops": B * flops / med / 1e9,
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "wasmMemoryBytes": None,
    }), flush=True)


if __name__ == "__main__":
    main()
