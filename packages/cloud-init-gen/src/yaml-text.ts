/**
 * Plain data to YAML text that both YAML 1.2 readers (the `yaml` package)
 * and cloud-init's PyYAML (YAML 1.1) read back as the same data.
 *
 * - Strings either reader could take for something else (`yes`, `on`, `~`,
 *   `0755`, `1e3`, `0x1F`, `2024-01-01`, `<<`, ...) are quoted; the `yaml`
 *   package's own rules quote indicators (`*`, `&`, `!`, `:`, `#`, `-`, `?`,
 *   `%`, `@`, backtick) and leading or trailing spaces.
 * - Multi-line strings become literal block scalars (`|`), unless they hold
 *   characters a block cannot carry (`\r`, control characters), lines of
 *   only spaces or tabs (read differently by PyYAML), or are mapping keys:
 *   those are written double-quoted with escapes instead.
 * - Characters PyYAML refuses in a stream (C1 controls, U+FFFE, U+FFFF,
 *   unpaired surrogates) and YAML 1.1 line breaks (U+0085, U+2028, U+2029)
 *   only ever appear as escapes inside double quotes.
 * - No anchors or aliases, no line folding.
 */
import { Document, isScalar, Scalar, visit } from "yaml";

/** Characters that force a double-quoted scalar (escaped there). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const NEEDS_DOUBLE_QUOTES = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff\r]/u;

/**
 * Plain strings that a YAML 1.1 or 1.2 reader might resolve to a non-string:
 * booleans (y/n/yes/no/on/off/true/false in any case), null (`~`, `null`),
 * anything starting like a number or date (digits, sign, dot: `0755`, `1e3`,
 * `-.5`, `+1`, `.inf`, `1:20`), a dot with no digits that YAML 1.1's float
 * pattern still takes (`.`, `-.`, `._`, `.e5`: read as NaN), merge `<<` and
 * value `=`.
 */
const AMBIGUOUS_PLAIN =
  /^(?:y|n|yes|no|on|off|true|false|null|~|<<|=|[-+]?\.?[0-9].*|[-+]?\.[0-9_]*(?:e[-+]?[0-9]+)?|[-+]?\.(?:inf|nan))$/is;

/** Raw characters left in double-quoted output that PyYAML refuses or reads as line breaks (JSON.stringify leaves them raw). */
const RAW_UNPRINTABLE = /[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/gu;

/** A line holding only spaces or tabs: PyYAML and the `yaml` package disagree on those inside blocks. */
const BLANK_BUT_NOT_EMPTY_LINE = /(?:^|\n)[ \t]+(?:\n|$)/;

function styleFor(value: string, isKey: boolean): Scalar.Type | undefined {
  if (value === "" || AMBIGUOUS_PLAIN.test(value) || NEEDS_DOUBLE_QUOTES.test(value)) return Scalar.QUOTE_DOUBLE;
  // PyYAML (cloud-init's reader) refuses some tabs inside plain scalars that YAML 1.2 allows (`a<TAB>-`).
  if (!value.includes("\n") && value.includes("\t")) return Scalar.QUOTE_DOUBLE;
  if (value.includes("\n")) {
    const blockSafe = !isKey && /[^\s]/.test(value) && !BLANK_BUT_NOT_EMPTY_LINE.test(value);
    return blockSafe ? Scalar.BLOCK_LITERAL : Scalar.QUOTE_DOUBLE;
  }
  return undefined;
}

function escapeUnprintable(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Renders plain data (objects, arrays, strings, finite numbers, booleans, null) as a YAML document body. */
export function toYamlText(data: unknown): string {
  const doc = new Document(data, { aliasDuplicateObjects: false });
  visit(doc, {
    Scalar(key, node) {
      if (isScalar(node) && typeof node.value === "string") {
        const style = styleFor(node.value, key === "key");
        if (style !== undefined) node.type = style;
      }
    },
  });
  const text = doc.toString({
    lineWidth: 0,
    minContentWidth: 0,
    indentSeq: true,
    // Keep "\n" escapes on one line inside double quotes: simpler for PyYAML and for humans.
    doubleQuotedMinMultiLineLength: Number.MAX_SAFE_INTEGER,
  });
  // Raw unprintables can only sit inside double-quoted scalars (NEEDS_DOUBLE_QUOTES forced them there).
  return text.replace(RAW_UNPRINTABLE, escapeUnprintable);
}
