import { describe, expect, test } from 'vitest';
import { KERAS_FILTERS, tokenize } from '../../ts/data/index';

describe('tokenize (Keras text_to_word_sequence + <br />, Python str.split whitespace)', () => {
  test('lowercases, turns <br /> and every Keras filter into a space', () => {
    expect(tokenize('Great FILM!<br /><br />10/10, would watch again.')).toEqual(['great', 'film', '10', '10', 'would', 'watch', 'again']);
    // Every filter character separates; the apostrophe is not a filter (Keras keeps "don't").
    expect(tokenize(`a${KERAS_FILTERS.split('').join('b')}c`)).toEqual(['a', ...'b'.repeat(KERAS_FILTERS.length - 1).split(''), 'c']);
    expect(tokenize("Don't")).toEqual(["don't"]);
  });

  test('splits on U+0085 and U+001C..U+001F as Python does, not on U+FEFF', () => {
    expect(tokenize('one\u0085two\u001cthree\u001dfour\u001efive\u001fsix')).toEqual(['one', 'two', 'three', 'four', 'five', 'six']);
    expect(tokenize('a\u00a0b\u3000c\u2028d\u000be')).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Python: 'a\ufeffb'.split() == ['a\ufeffb']; JavaScript's \s would split it.
    expect(tokenize('a\ufeffb')).toEqual(['a\ufeffb']);
    expect(tokenize('\u200bzero')).toEqual(['\u200bzero']); // U+200B is not whitespace in Python either
  });

  test('empty and separator-only text give no words; Unicode lowercasing as Python (U+0130 → i + U+0307)', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize(' \t\n<br />...')).toEqual([]);
    expect(tokenize('\u0130STANBUL')).toEqual(['i\u0307stanbul']); // Python: 'İSTANBUL'.lower()
    expect(tokenize('ΟΔΟΣ')).toEqual(['\u03bf\u03b4\u03bf\u03c2']); // final sigma, as Python's str.lower
  });

  test('rejects a non-string', () => {
    expect(() => tokenize(42 as unknown as string)).toThrow(TypeError);
  });
});
