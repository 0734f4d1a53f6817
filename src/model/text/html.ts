// HTML character references decoded the two ways Wan's text cleaning decodes them: Python's
// html.unescape (the HTML5 rules: named references with or without ';' by longest match, numeric ones
// with the spec's replacements) and ftfy's unescape_html (only references that end in ';', plus
// all-caps forms of lower-case names). The entity table is the `entities` package's; the numeric rules
// follow Python's, which drop control characters and non-characters that `entities` would keep.
// Browser-safe.

import { decodeHTML, decodeHTMLStrict } from 'entities';

/** Windows-1252's characters for bytes 0x80–0x9F; bytes it leaves undefined map to themselves. */
export const WINDOWS_1252_C1 = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

/** Code points a numeric reference may not produce: Python's html drops them. */
function isInvalidCodePoint(cp: number): boolean {
  return (
    (cp >= 0x1 && cp <= 0x8) ||
    cp === 0xb ||
    (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe
  );
}

function numericReference(digits: string, hex: boolean): string {
  const cp = hex ? parseInt(digits, 16) : parseInt(digits, 10);
  if (cp === 0) return '\ufffd';
  if (cp === 0x0d) return '\r';
  if (cp >= 0x80 && cp <= 0x9f) return String.fromCodePoint(WINDOWS_1252_C1[cp - 0x80]);
  if ((cp >= 0xd800 && cp <= 0xdfff) || !(cp <= 0x10ffff)) return '\ufffd';
  if (isInvalidCodePoint(cp)) return '';
  return String.fromCodePoint(cp);
}

// Python's html._charref: the name part is at most 32 code points, hence the `u` flag.
const CHARACTER_REFERENCE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Python's html.unescape. */
export function pythonHtmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARACTER_REFERENCE, (match: string, body: string) => {
    if (body[0] === '#') {
      const hex = body[1] === 'x' || body[1] === 'X';
      return numericReference(body.slice(hex ? 2 : 1).replace(/;$/, ''), hex);
    }
    // Named: the longest entity name that prefixes the body (legacy names need no ';'), which is
    // the HTML5 rule `entities` implements; nothing else in `match` can decode (it holds one '&').
    return decodeHTML(match);
  });
}

const FTFY_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;

/** ftfy's fixes.unescape_html. */
export function ftfyUnescapeHtml(text: string): string {
  return text.replace(FTFY_ENTITY, (match) => {
    if (match[1] === '#') {
      const decoded = pythonHtmlUnescape(match);
      // Only when the whole reference, ';' included, was consumed.
      return decoded.includes(';') ? match : decoded;
    }
    const exact = decodeHTMLStrict(match);
    if (exact !== match) return exact;
    // "&EACUTE;" for "&eacute;": names that are all lower case, upper-cased, when the upper-cased form
    // means nothing by itself; the character is upper-cased too.
    const lower = match.toLowerCase();
    if (match === lower.toUpperCase() && pythonHtmlUnescape(match) === match) {
      const decoded = decodeHTMLStrict(lower);
      if (decoded !== lower) return decoded.toUpperCase();
    }
    return match;
  });
}
