// Wan2.1's prompt cleaning, `clean='whitespace'` in wan/modules/tokenizers.py: ftfy.fix_text,
// html.unescape twice, strip, then every run of whitespace (the `regex` module's \s) becomes one
// space and the ends are stripped again.
//
// ftfy has no JavaScript port, so fix_text is reimplemented here with ftfy 6.3's default fixers in its
// order, per line, repeated until nothing changes: unescape_html (skipped from the first line holding
// '<' on), fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks,
// fix_surrogates, remove_terminal_escapes, remove_control_chars, NFC. Not done: fix_encoding's mojibake
// repair (text that was UTF-8 decoded as Windows-1252 or Latin-1, such as "cafÃ©"), a heuristic over
// large tables; such text is tokenized as it is. Its one case that needs no heuristic, C1 control
// characters read as Windows-1252, is what fix_c1_controls does. Browser-safe.

import { ftfyUnescapeHtml, pythonHtmlUnescape, WINDOWS_1252_C1 } from './html.ts';

/** Python's str.isspace(): what str.strip() removes. */
const PYTHON_SPACE = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** The `regex` module's \s (Unicode White_Space): Python's set without U+001C–U+001F. */
const REGEX_SPACE_RUN = /[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
const LEADING_SPACE = new RegExp(`^[${PYTHON_SPACE}]+`);
const TRAILING_SPACE = new RegExp(`[${PYTHON_SPACE}]+$`);

/** Python's str.strip() with no argument. */
export function pythonStrip(text: string): string {
  return text.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
}

// ---- ftfy's fixers ---------------------------------------------------------------------------------

const LATIN_LIGATURES: Record<string, string> = {
  'Ĳ': 'IJ', 'ĳ': 'ij', 'ŉ': 'ʼn', 'Ǳ': 'DZ', 'ǲ': 'Dz', 'ǳ': 'dz', 'Ǆ': 'DŽ', 'ǅ': 'Dž', 'ǆ': 'dž',
  'Ǉ': 'LJ', 'ǈ': 'Lj', 'ǉ': 'lj', 'Ǌ': 'NJ', 'ǋ': 'Nj', 'ǌ': 'nj',
  'ﬀ': 'ff', 'ﬁ': 'fi', 'ﬂ': 'fl', 'ﬃ': 'ffi', 'ﬄ': 'ffl', 'ﬅ': 'ſt', 'ﬆ': 'st',
};
const LATIN_LIGATURE = new RegExp(`[${Object.keys(LATIN_LIGATURES).join('')}]`, 'g');

/** Half- and full-width forms (U+FF01–U+FFEF) to their NFKC form, and U+3000 to a space. */
const CHARACTER_WIDTH = /[\u3000\uff01-\uffef]/g;
function standardWidth(c: string): string {
  return c === '\u3000' ? ' ' : c.normalize('NFKC');
}

const C1_CONTROL = /[\x80-\x9f]/g;
const SINGLE_QUOTE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE = /[\u201c-\u201f]/g;
const TERMINAL_ESCAPE = /\x1b\[(?:\d|;)*[a-zA-Z]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const CONTROL_CHARACTERS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

function fixSegment(segment: string, unescapeHtml: boolean): string {
  let text = segment;
  for (;;) {
    const before = text;
    if (unescapeHtml) text = ftfyUnescapeHtml(text);
    text = text.replace(C1_CONTROL, (c) => String.fromCodePoint(WINDOWS_1252_C1[c.charCodeAt(0) - 0x80]));
    text = text.replace(LATIN_LIGATURE, (c) => LATIN_LIGATURES[c]);
    text = text.replace(CHARACTER_WIDTH, standardWidth);
    text = text.replace(DOUBLE_QUOTE, '"').replace(SINGLE_QUOTE, "'");
    text = text.replace(/\r\n/g, '\n').replace(/[\r\u2028\u2029\x85]/g, '\n');
    // A JavaScript string holds surrogate pairs as pairs already; only lone halves need fixing.
    text = text.replace(LONE_SURROGATE, '\ufffd');
    text = text.replace(TERMINAL_ESCAPE, '');
    text = text.replace(CONTROL_CHARACTERS, '');
    text = text.normalize('NFC');
    if (text === before) return text;
  }
}

/** ftfy.fix_text with its default configuration, less mojibake repair (see the top of this file). */
export function ftfyFixText(text: string): string {
  const out: string[] = [];
  // "auto": HTML entities are decoded until a line holds '<' (then the text is taken to be HTML).
  let unescapeHtml = true;
  for (let pos = 0; pos < text.length; ) {
    const newline = text.indexOf('\n', pos);
    const end = newline < 0 ? text.length : newline + 1;
    const segment = text.slice(pos, end);
    if (segment.includes('<')) unescapeHtml = false;
    out.push(fixSegment(segment, unescapeHtml));
    pos = end;
  }
  return out.join('');
}

/** Wan's `whitespace_clean`: runs of whitespace to one space, ends stripped. */
export function whitespaceClean(text: string): string {
  return pythonStrip(text.replace(REGEX_SPACE_RUN, ' '));
}

/** Wan's `whitespace_clean(basic_clean(text))`. */
export function cleanPrompt(text: string): string {
  return whitespaceClean(pythonStrip(pythonHtmlUnescape(pythonHtmlUnescape(ftfyFixText(text)))));
}
