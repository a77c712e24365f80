/**
 * Tiny amd64 guests for run-state tests, generated as 64 KiB `-bios` ROMs
 * (the same layout as the accelerator probe's, see probe-guests.ts): one
 * that reports a panic through the pvpanic ISA device (QEMU run state
 * `guest-panicked` with `-device pvpanic -action panic=pause`), one that
 * runs forever (a guest that needs its accelerator for as long as it runs),
 * one that prints a line on the serial console and spins. As `-bios` or as
 * the UEFI code of a firmware boot (`-drive if=pflash,unit=0`, 64 KiB).
 */

function rom(code: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(64 * 1024).fill(0xf4); // hlt
  bytes.set(code, 0);
  bytes.set([0xe9, 0x0d, 0x00], 0xfff0); // reset vector: jmp near 0x0000
  return bytes;
}

/** Writes 1 (PVPANIC_PANICKED) to the pvpanic device at I/O port 0x505, then halts. */
export function amd64PanicRom(): Uint8Array {
  return rom([0xba, 0x05, 0x05, 0xb0, 0x01, 0xee, 0xf4, 0xeb, 0xfd]); // mov dx,0x505; mov al,1; out dx,al; hlt; jmp
}

/**
 * Writes `text` to COM1 (0x3f8) from the reset vector, then spins (`jmp $`): as a firmware-booted kernel whose
 * command line has no `panic=` does after a panic. A machine reset runs it again from the start.
 */
export function amd64ConsoleRom(text: string): Uint8Array {
  const code: number[] = [0xba, 0xf8, 0x03]; // mov dx, 0x3f8
  for (const byte of new TextEncoder().encode(text)) code.push(0xb0, byte, 0xee); // mov al, byte; out dx, al
  code.push(0xeb, 0xfe); // jmp $
  if (code.length > 0xfff0) throw new RangeError("console text too long for the ROM");
  return rom(code);
}

/** Spins forever (`jmp $`): the vCPU always runs. */
export function amd64SpinRom(): Uint8Array {
  return rom([0xeb, 0xfe]);
}
