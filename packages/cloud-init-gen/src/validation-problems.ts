/** A problem found by a validator: where (a path like `write_files[2].permissions`) and what. */
export interface ValidationProblem {
  readonly path: string;
  readonly message: string;
}

export type ValidationResult =
  | { readonly ok: true; readonly problems: readonly [] }
  | { readonly ok: false; readonly problems: readonly ValidationProblem[] };

/** `write_files[2].permissions: must be an octal string like "0644"` */
export function formatProblem(problem: ValidationProblem): string {
  return problem.path === "" ? problem.message : `${problem.path}: ${problem.message}`;
}

/** Appends a key to a path: `a` + `b` = `a.b`; keys that are not identifiers are quoted: `a["x y"]`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  const part = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
  if (part.startsWith('"')) return `${base}[${part}]`;
  return base === "" ? part : `${base}.${part}`;
}

/** Collects problems while a validator walks its input. */
export class ProblemCollector {
  readonly problems: ValidationProblem[] = [];

  add(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  result(): ValidationResult {
    return this.problems.length === 0 ? { ok: true, problems: [] } : { ok: false, problems: [...this.problems] };
  }
}
