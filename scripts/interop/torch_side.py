"""The PyTorch side of scripts/interop-check (never run in CI).

  torch_side.py check-cellstate DIR   load every cellstate model DIR/cs-*/ in the matching torch.nn module
                                      (load_state_dict(strict=True)) and compare outputs with cellstate's
  torch_side.py make DIR              train a small PyTorch model (saved with safetensors.torch.save_file
                                      + a cellstate config), torch.onnx.export the notebook's models
  torch_side.py check-onnx DIR        onnx.checker (full_check) and python onnxruntime on cellstate's exports

Shapes: B batch, T steps, V vocabulary, E embedding, H hidden, D directions, P = D*H, U units.
"""
import json
import pathlib
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)


class CellstateModule(nn.Module):
    """A cellstate SequenceModelConfig as PyTorch modules, under the same state-dict names."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        inp = c["input"]
        self.one_hot = inp == "one-hot"
        self.dense = isinstance(inp, dict) and "features" in inp
        if isinstance(inp, dict) and "embedding" in inp:
            pad = inp.get("paddingIdx", 0)
            self.embedding = nn.Embedding(c["vocabSize"], inp["embedding"], padding_idx=pad)
            width = inp["embedding"]
        else:
            width = c["vocabSize"] if self.one_hot else inp["features"]
        l = c["lstm"]
        self.D = 2 if l.get("bidirectional") else 1
        self.lstm = nn.LSTM(width, l["hiddenSize"], num_layers=l.get("numLayers", 1), bidirectional=self.D == 2, batch_first=True)
        p = self.D * l["hiddenSize"] * (2 if c.get("pooling") == "max-mean" else 1)
        self.acts = []
        head = []
        for d in c.get("head", []):
            head.append(nn.Linear(p, d["units"]))
            self.acts.append(d.get("activation", "relu"))
            p = d["units"]
        self.head = nn.ModuleList(head)
        self.fc = nn.Linear(p, c["output"]["units"])

    def forward(self, x, lengths=None):
        c = self.c
        mask = c.get("mask", False)
        if lengths is None and mask is not False:
            # cellstate's mask: real tokens to the front in order, lengths = max(1, count).
            pad = 0 if mask is True else mask
            real = x != pad
            order = torch.argsort((~real).to(torch.int64) * x.shape[1] + torch.arange(x.shape[1]), dim=1, stable=True)
            x = torch.gather(x, 1, order)
            lengths = real.sum(1).clamp(min=1)
        if lengths is not None:
            lengths = lengths.clamp(min=1)
        if self.one_hot:
            h = F.one_hot(x, c["vocabSize"]).float()
        elif self.dense:
            h = x
        else:
            h = self.embedding(x)
        T = h.shape[1]
        if lengths is not None:
            packed = nn.utils.rnn.pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
            y, (hn, _) = self.lstm(packed)
            y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=T)
        else:
            y, (hn, _) = self.lstm(h)
        pooling = c.get("pooling", "last")
        if pooling == "last":
            a = torch.cat([hn[-self.D + d] for d in range(self.D)], dim=1)
        elif pooling == "mean":
            n = lengths.unsqueeze(1).float() if lengths is not None else T
            a = y.sum(1) / n
        elif pooling in ("max", "max-mean"):
            n = lengths.unsqueeze(1).float() if lengths is not None else T
            mean = y.sum(1) / n  # pad_packed_sequence leaves zeros past each length
            if lengths is not None:
                valid = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
                y = y.masked_fill(~valid.unsqueeze(2), float("-inf"))
            a = y.max(1).values
            if pooling == "max-mean":
                a = torch.cat([a, mean], dim=1)
        else:
            a = y
        for layer, act in zip(self.head, self.acts):
            a = layer(a)
            a = torch.relu(a) if act == "relu" else torch.tanh(a) if act == "tanh" else a
        z = self.fc(a)
        act = c["output"]["activation"]
        return torch.sigmoid(z) if act == "sigmoid" else torch.softmax(z, -1) if act == "softmax" else z


def tensor_in(rec):
    arr = np.array(rec["data"], dtype=np.int64 if rec.get("dtype") == "int" else np.float32).reshape(rec["shape"])
    return torch.from_numpy(arr)


def check_cellstate(root):
    worst = 0.0
    for d in sorted(root.glob("cs-*")):
        case = json.loads((d / "case.json").read_text())
        config = json.loads((d / "model" / "config.json").read_text())["model"]
        weights = {k: v for k, v in load_file(str(d / "model" / "model.safetensors")).items() if not k.startswith("optimizer.")}
        m = CellstateModule(config).eval()
        m.load_state_dict(weights, strict=True)
        x = tensor_in(case["x"])
        lengths = torch.tensor(case["lengths"]) if case.get("lengths") is not None else None
        with torch.no_grad():
            out = m(x, lengths).numpy()
        want = np.array(case["output"]["data"], dtype=np.float32).reshape(case["output"]["shape"])
        diff = float(np.abs(out.astype(np.float64) - want).max())
        worst = max(worst, diff)
        (d / "torch-output.json").write_text(json.dumps({
            "about": "outputs of the matching torch.nn module (scripts/interop/torch_side.py) with this cellstate model's weights, load_state_dict(strict=True)",
            "torch": torch.__version__,
            "x": case["x"],
            "lengths": case.get("lengths"),
            "output": {"shape": list(out.shape), "data": out.flatten().tolist()},
        }))
        print(f"cellstate -> torch  {d.name:36s} load_state_dict(strict=True) ok, max |torch - cellstate| = {diff:.2e}")
    return worst


def notebook_model(kind):
    """The notebook's models and the strong preset's, as plain torch modules (what users export)."""

    class Seed(nn.Module):
        # One-hot 300 -> LSTM(16) -> Linear(1) on h_n[-1]; logits (BCEWithLogits in training).
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(300, 16, batch_first=True)
            self.fc = nn.Linear(16, 1)

        def forward(self, x):
            _, (h, _) = self.lstm(F.one_hot(x, 300).float())
            return self.fc(h[-1])

    class Strong(nn.Module):
        # Embedding 64 -> BiLSTM(32) -> max over time -> Linear(1) -> sigmoid.
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(1000, 24, padding_idx=0)
            self.lstm = nn.LSTM(24, 12, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(24, 1)

        def forward(self, x):
            y, _ = self.lstm(self.embedding(x))
            return torch.sigmoid(self.fc(y.max(1).values))

    class Stacked(nn.Module):
        # Embedding -> 2-layer BiLSTM -> cat(h_n fwd, bwd) -> Linear(8) ReLU -> Linear(3) softmax.
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(500, 10, padding_idx=0)
            self.lstm = nn.LSTM(10, 8, num_layers=2, batch_first=True, bidirectional=True)
            self.head = nn.ModuleList([nn.Linear(16, 8)])
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            _, (h, _) = self.lstm(self.embedding(x))
            a = torch.cat([h[-2], h[-1]], dim=1)
            return torch.softmax(self.fc(torch.relu(self.head[0](a))), -1)

    # Deliberate repeat: one plain torch module per notebook model, as users would write them.
    class Tagger(nn.Module):
        # Dense features (F 5) -> LSTM(6) -> per-step Linear(4) -> per-step outputs (logits).
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(5, 6, batch_first=True)
            self.fc = nn.Linear(6, 4)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.fc(y)

    class MeanPool(nn.Module):
        # Embedding -> LSTM(7) -> mean over time -> Linear(2) (regression).
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(200, 6, padding_idx=0)
            self.lstm = nn.LSTM(6, 7, batch_first=True)
            self.fc = nn.Linear(7, 2)

        def forward(self, x):
            y, _ = self.lstm(self.embedding(x))
            return self.fc(y.mean(1))

    class MaxMean(nn.Module):
        # Embedding -> BiLSTM(5) -> cat(max over time, mean over time) -> Linear(1) (logits).
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(150, 6, padding_idx=0)
            self.lstm = nn.LSTM(6, 5, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(20, 1)

        def forward(self, x):
            y, _ = self.lstm(self.embedding(x))
            return self.fc(torch.cat([y.max(1).values, y.mean(1)], dim=1))

    return {"seed": Seed, "strong": Strong, "stacked": Stacked, "tagger": Tagger, "mean": MeanPool, "maxmean": MaxMean}[kind]()


def make(root):
    fx = root / "fixtures"
    fx.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    # 1. A PyTorch-trained model, saved as a user would: safetensors.torch.save_file + a cellstate config.
    config = {
        "input": {"embedding": 8},
        "vocabSize": 40,
        "lstm": {"hiddenSize": 6, "numLayers": 2, "bidirectional": True},
        "pooling": "mean",
        "head": [{"units": 5, "activation": "tanh"}],
        "output": {"units": 3, "activation": "softmax"},
        "mask": True,
    }
    torch.manual_seed(0)
    m = CellstateModule(config)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    x = torch.randint(1, 40, (64, 12), generator=g)
    for i in range(64):  # ragged 'post' padding
        x[i, 1 + (i * 7) % 12:] = 0
    y = x[:, 0] % 3
    for _ in range(30):
        opt.zero_grad()
        loss = F.nll_loss(torch.log(m(x)), y)
        loss.backward()
        opt.step()
    m.eval()
    xt = torch.randint(1, 40, (10, 12), generator=g)
    for i in range(10):
        xt[i, (i * 5) % 13:] = 0  # includes an all-padding row (length 0 -> one step)
    with torch.no_grad():
        out = m(xt)
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(fx / "torch-trained.safetensors"))
    (fx / "torch-trained.json").write_text(json.dumps({
        "about": "PyTorch-trained CellstateModule (scripts/interop/torch_side.py), 30 Adam steps; outputs of torch on x",
        "torch": torch.__version__,
        "config": config,
        "x": {"shape": list(xt.shape), "data": xt.flatten().tolist()},
        "output": {"shape": list(out.shape), "data": out.flatten().tolist()},
    }))
    print(f"torch -> cellstate  trained {config['lstm']} in torch (final loss {loss.item():.3f}), saved torch-trained.safetensors")
    # 2. torch.onnx.export of the notebook's models (the TorchScript exporter, dynamo=False).
    for kind in ["seed", "strong", "stacked", "tagger", "mean", "maxmean"]:
        torch.manual_seed(1)
        net = notebook_model(kind).eval()
        if kind == "tagger":
            xs = torch.randn(4, 7, 5, generator=g)
            name, dyn = "x", {"x": {0: "batch", 1: "steps"}, "output": {0: "batch", 1: "steps"}}
        else:
            vocab = {"seed": 300, "strong": 1000, "stacked": 500, "mean": 200, "maxmean": 150}[kind]
            xs = torch.randint(0, vocab, (4, 20), generator=g)
            name, dyn = "tokens", {"tokens": {0: "batch", 1: "steps"}, "output": {0: "batch"}}
        with torch.no_grad():
            want = net(xs)
        path = fx / f"torch-{kind}.onnx"
        torch.onnx.export(net, (xs,), str(path), input_names=[name], output_names=["output"], dynamic_axes=dyn, opset_version=17, dynamo=False)
        # A second input of another batch and length checks the dynamic axes.
        xs2 = torch.randn(3, 11, 5, generator=g) if kind == "tagger" else torch.randint(0, vocab, (3, 11), generator=g)
        with torch.no_grad():
            want2 = net(xs2)
        (fx / f"torch-{kind}.json").write_text(json.dumps({
            "about": f"torch.onnx.export(dynamo=False, opset 17) of the '{kind}' model in scripts/interop/torch_side.py; outputs of torch",
            "torch": torch.__version__,
            "input": name,
            "cases": [
                {"x": {"shape": list(a.shape), "data": a.flatten().tolist()}, "output": {"shape": list(b.shape), "data": b.flatten().tolist()}}
                for a, b in [(xs, want), (xs2, want2)]
            ],
        }))
        import onnx

        ops = [n.op_type for n in onnx.load(str(path)).graph.node]
        print(f"torch.onnx.export   {kind:8s} -> {path.name} ({path.stat().st_size} bytes; ops {' '.join(sorted(set(ops)))})")


def check_onnx(root):
    import onnx

    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    worst = 0.0
    for d in sorted(root.glob("cs-*")):
        path = d / "model.onnx"
        m = onnx.load(str(path))
        onnx.checker.check_model(m, full_check=True)
        msg = "onnx.checker(full_check) ok"
        if ort:
            case = json.loads((d / "case.json").read_text())
            s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            x = np.array(case["x"]["data"], dtype=np.int32 if case["x"].get("dtype") == "int" else np.float32).reshape(case["x"]["shape"])
            feeds = {s.get_inputs()[0].name: x}
            if case.get("lengths") is not None:
                feeds["lengths"] = np.array(case["lengths"], dtype=np.int32)
            out = s.run(["output"], feeds)[0]
            want = np.array(case["output"]["data"], dtype=np.float32).reshape(case["output"]["shape"])
            diff = float(np.abs(out.astype(np.float64) - want).max())
            worst = max(worst, diff)
            msg += f", python onnxruntime {ort.__version__}: max |ort - cellstate| = {diff:.2e}"
        print(f"cellstate -> ONNX   {d.name:36s} {msg}")
    if not ort:
        print("python onnxruntime is not installed: pip install onnxruntime into the venv to run the exports there too")
    return worst


if __name__ == "__main__":
    cmd, root = sys.argv[1], pathlib.Path(sys.argv[2])
    if cmd == "check-cellstate":
        print(f"MAX cellstate->torch {check_cellstate(root):.3e}")
    elif cmd == "make":
        make(root)
    elif cmd == "check-onnx":
        print(f"MAX cellstate->onnxruntime(python) {check_onnx(root):.3e}")
    else:
        sys.exit(f"unknown command {cmd}")
