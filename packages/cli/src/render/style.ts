/** Colour for terminal output through Node's `util.styleText`, switched off entirely when not wanted. */
import { styleText } from "node:util";

export type StyleName = "bold" | "dim" | "red" | "green" | "yellow" | "cyan" | "gray";

export interface Style {
  (name: StyleName, text: string): string;
  readonly enabled: boolean;
}

export function createStyle(enabled: boolean): Style {
  const style = ((name: StyleName, text: string) =>
    enabled ? styleText(name, text, { validateStream: false }) : text) as Style;
  Object.defineProperty(style, "enabled", { value: enabled });
  return style;
}
