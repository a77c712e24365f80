/**
 * Tiny guests for the accelerator probe, generated as bytes: each one prints
 * {@link PROBE_MARKER} on the first serial port and powers the machine off. A
 * vCPU that reaches the marker proves the accelerator really runs code.
 *
 * - amd64: a 64 KiB `-bios` ROM. At the reset vector (real mode) it writes the
 *   marker to the 16550 UART at I/O port 0x3f8, then writes 0x10 to an
 *   `isa-debug-exit` device at port 0xf4, so QEMU exits with code 33.
 * - arm64: a raw `-kernel` image for `-M virt`: it enables the PL011 UART at
 *   0x09000000, writes the marker, then calls PSCI SYSTEM_OFF through `hvc`.
 */
import type { Arch } from "./vm-spec.js";

/** What the probe guests print on the serial console. */
export const PROBE_MARKER = "HEXCLAVE-PROBE-OK";

/** The exit code of QEMU when the amd64 guest writes 0x10 to `isa-debug-exit` ((0x10 << 1) | 1). */
export const AMD64_PROBE_EXIT_CODE = 33;

/** QEMU arguments the amd64 probe guest needs besides `-bios <rom>`. */
export const AMD64_PROBE_DEVICE = "isa-debug-exit,iobase=0xf4,iosize=0x04";

/** A 64 KiB x86 BIOS ROM (QEMU wants a multiple of 64 KiB) that prints `marker` and exits through isa-debug-exit. */
export function amd64ProbeRom(marker: string = `${PROBE_MARKER}\n`): Uint8Array {
  const rom = new Uint8Array(64 * 1024).fill(0xf4); // hlt everywhere
  const code: number[] = [0xba, 0xf8, 0x03]; // mov dx, 0x3f8
  for (const byte of new TextEncoder().encode(marker)) code.push(0xb0, byte, 0xee); // mov al, byte; out dx, al
  code.push(0xb0, 0x10, 0xe6, 0xf4); // mov al, 0x10; out 0xf4, al  -> QEMU exits with 33
  code.push(0xf4, 0xeb, 0xfd); // hlt; jmp hlt
  if (code.length > 0xfff0) throw new RangeError("probe marker too long");
  rom.set(code, 0);
  // Reset vector at 0xFFFF_FFF0 (ROM offset 0xfff0), CS base 0xFFFF_0000: jmp near 0x0000.
  rom.set([0xe9, 0x0d, 0x00], 0xfff0);
  return rom;
}

const movzW = (rd: number, imm16: number) => 0x52800000 | (imm16 << 5) | rd;

/** A raw AArch64 image for `-M virt -kernel` that prints `marker` on the PL011 and calls PSCI SYSTEM_OFF. */
export function arm64ProbeImage(marker: string = `${PROBE_MARKER}\n`): Uint8Array {
  const words: number[] = [
    0xd2a12001, // movz x1, #0x0900, lsl #16      x1 = 0x0900_0000 (PL011)
    movzW(2, 0x301), // movz w2, #0x301        UARTEN | TXE | RXE
    0xb9003022, // str  w2, [x1, #0x30]            UARTCR
  ];
  for (const byte of new TextEncoder().encode(marker)) {
    words.push(movzW(2, byte), 0x39000022); // movz w2, #byte; strb w2, [x1]  (UARTDR)
  }
  words.push(
    0xd2800100, // movz x0, #0x0008
    0xf2b08000, // movk x0, #0x8400, lsl #16      x0 = 0x8400_0008 PSCI SYSTEM_OFF
    0xd4000002, // hvc  #0
    0xd503207f, // wfi
    0x17ffffff, // b    wfi
  );
  const image = new Uint8Array(words.length * 4);
  const view = new DataView(image.buffer);
  words.forEach((word, i) => {
    view.setUint32(i * 4, word >>> 0, true);
  });
  return image;
}

/** The probe guest for an arch, with the file name it is written under. */
export function probeGuest(arch: Arch): { fileName: string; bytes: Uint8Array } {
  return arch === "amd64"
    ? { fileName: "probe-bios.bin", bytes: amd64ProbeRom() }
    : { fileName: "probe-kernel.bin", bytes: arm64ProbeImage() };
}
