/** An error as one line of at most 500 characters, for events and results. */
export const errorText = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join(" ")
    .replace(/: (?=\S)/, ": ")
    .slice(0, 500);
