/** The guest kernel's command line (`-append`), pure. */

/**
 * `append` with each `key=value` of `options` added, unless the command line
 * already sets that key (the image's own choice wins). Idempotent.
 */
export function withKernelOptions(append: string, options: readonly string[]): string {
  const words = append.split(/\s+/).filter((w) => w !== "");
  for (const option of options) {
    const equals = option.indexOf("=");
    const key = equals < 0 ? option : option.slice(0, equals + 1);
    if (!words.some((w) => (equals < 0 ? w === key : w.startsWith(key)))) words.push(option);
  }
  return words.join(" ");
}
