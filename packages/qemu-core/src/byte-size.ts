/**
 * Byte counts for people: `formatBytes(1536)` is `"1.5 KiB"` (binary units, as qemu-img and df -h use). The one
 * byte formatter of the packages and the CLI, so one run never shows `MB` beside `GiB`.
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "? B";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
