/**
 * The tokenizer of the IMDB loader, exposed so that raw text (a user's own review) maps to the same words.
 * Keras' `text_to_word_sequence` with its default filters, plus the `<br />` rule of the IMDB reviews:
 *   1. lowercase (JavaScript's `toLowerCase`; Keras uses Python's `str.lower`, see below),
 *   2. every `<br />` becomes a space,
 *   3. every character of {@link KERAS_FILTERS} becomes a space,
 *   4. split on whitespace exactly as Python's `str.split()` does, dropping empty strings.
 *
 * Whitespace is Python's, not JavaScript's `\s`: Python also splits on U+001C–U+001F and U+0085 (the
 * reviews hold 707 U+0085), and does not split on U+FEFF, which `\s` includes.
 *
 * Lowercasing: `toLowerCase` and Python's `str.lower` both apply Unicode's full mappings (U+0130 becomes
 * "i̇", two code units, in both; final sigma is handled by both). Compared code point by code point, Node
 * 20 and Python 3.11 disagree on 55 characters, all added to Unicode after Python 3.11's tables (e.g.
 * U+1C89, U+A7CB, U+10D50–U+10D65); none occurs in the IMDB reviews.
 */

/** Keras' default `filters` of `text_to_word_sequence`: each becomes a space. */
export const KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n';

/** Python's `str.split()` whitespace (`str.isspace()`): bidi types WS, B, S and category Zs. */
export const PYTHON_WHITESPACE =
  '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a' +
  '\u2028\u2029\u202f\u205f\u3000';

/** 1 for every UTF-16 code unit that separates words (filters and whitespace); all are in the BMP. */
const SEPARATOR = new Uint8Array(0x10000);
for (const ch of KERAS_FILTERS + PYTHON_WHITESPACE) SEPARATOR[ch.charCodeAt(0)] = 1;

/** The text after steps 1 and 2: lowercased, with `<br />` as a space. */
function normalize(text: string): string {
  return text.toLowerCase().replaceAll('<br />', ' ');
}

/**
 * Calls `onWord` for each word of `text` in order (no array of words is built: the loader's hot path).
 * @throws {TypeError} when `text` is not a string.
 */
export function forEachWord(text: string, onWord: (word: string) => void): void {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
  const s = normalize(text);
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    if (SEPARATOR[s.charCodeAt(i)] === 1) {
      if (start >= 0) {
        onWord(s.slice(start, i));
        start = -1;
      }
    } else if (start < 0) start = i;
  }
  if (start >= 0) onWord(s.slice(start));
}

/**
 * Splits `text` into words with the rules above, e.g. `tokenize("Great film!<br />10/10")` gives
 * `["great", "film", "10", "10"]`.
 * @throws {TypeError} when `text` is not a string.
 */
export function tokenize(text: string): string[] {
  const words: string[] = [];
  forEachWord(text, (w) => words.push(w));
  return words;
}
