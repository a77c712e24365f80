/**
 * Pure reading of a Dockerfile's `FROM` lines: which images a build needs
 * from outside (not an earlier stage, not `scratch`), with `ARG` defaults and
 * build arguments substituted, so a build can check them before it starts.
 */

export interface FromInstruction {
  /** The image reference after substitution. */
  readonly image: string;
  /** `AS name`, lowercased. */
  readonly stage: string | undefined;
  /** `--platform=...` when given. */
  readonly platform: string | undefined;
  /** 1-based line of the FROM. */
  readonly line: number;
}

/** Joins continuation lines (`\` at the end) and drops comments; keeps each instruction's first line number. */
export function dockerfileInstructions(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let current: { line: number; text: string } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (current === undefined && (trimmed === "" || trimmed.startsWith("#"))) return;
    if (current !== undefined && trimmed.startsWith("#")) return; // comment inside a continuation
    const continues = /\\\s*$/.test(raw);
    const piece = continues ? raw.replace(/\\\s*$/, "") : raw;
    if (current === undefined) current = { line: index + 1, text: piece.trim() };
    else current.text = `${current.text} ${piece.trim()}`.trim();
    if (!continues) {
      out.push(current);
      current = undefined;
    }
  });
  if (current !== undefined) out.push(current);
  return out;
}

/** Substitutes `$NAME`, `${NAME}` and `${NAME:-default}`; unknown names become empty, as Docker does. */
export function substituteArgs(value: string, args: ReadonlyMap<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a, def, b) => {
    const name = (a ?? b) as string;
    const found = args.get(name);
    if (found !== undefined && found !== "") return found;
    return (def as string | undefined) ?? found ?? "";
  });
}

/** Every FROM of a Dockerfile, with global ARGs (before the first FROM) and build args applied. */
export function parseFromInstructions(
  text: string,
  buildArgs: Readonly<Record<string, string>> = {},
): FromInstruction[] {
  const globals = new Map<string, string>();
  const froms: FromInstruction[] = [];
  for (const instruction of dockerfileInstructions(text)) {
    const match = /^(\w+)\s+(.*)$/.exec(instruction.text);
    if (match === null) continue;
    const keyword = (match[1] ?? "").toUpperCase();
    const rest = match[2] ?? "";
    if (keyword === "ARG" && froms.length === 0) {
      for (const decl of rest.split(/\s+/)) {
        const [name, ...value] = decl.split("=");
        if (name === undefined || name === "") continue;
        const fromBuild = buildArgs[name];
        globals.set(name, fromBuild ?? (value.length > 0 ? value.join("=").replace(/^"(.*)"$/, "$1") : ""));
      }
    } else if (keyword === "FROM") {
      const words = rest.split(/\s+/).filter((w) => w !== "");
      let platform: string | undefined;
      while (words[0]?.startsWith("--")) {
        const flag = words.shift() ?? "";
        const platformMatch = /^--platform=(.*)$/.exec(flag);
        if (platformMatch !== null) platform = substituteArgs(platformMatch[1] ?? "", globals);
      }
      const image = substituteArgs(words[0] ?? "", globals);
      const stage = words[1]?.toLowerCase() === "as" ? words[2]?.toLowerCase() : undefined;
      froms.push({ image, stage, platform, line: instruction.line });
    }
  }
  return froms;
}

/** The images a build must find locally or pull: FROMs that are neither earlier stages nor `scratch`. */
export function externalBaseImages(froms: readonly FromInstruction[]): string[] {
  const stages = new Set<string>();
  const images: string[] = [];
  for (const from of froms) {
    const ref = from.image.toLowerCase();
    if (ref !== "scratch" && !stages.has(ref) && !images.includes(from.image)) images.push(from.image);
    if (from.stage !== undefined) stages.add(from.stage);
  }
  return images;
}
