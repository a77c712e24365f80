/**
 * Guest "kernels" for integration tests that need a real QEMU but no guest
 * OS: flat multiboot (v1, a.out kludge) binaries loaded at 1 MiB, booted by
 * QEMU's `-kernel` on x86_64. They run for real on the vCPU; nothing is faked
 * on the QEMU side.
 */

const LOAD_ADDRESS = 0x100000;
const ENTRY_OFFSET = 0x20;

function multibootHeader(): Buffer {
  const magic = 0x1badb002;
  const flags = 0x00010000; // the load addresses below are valid (a.out kludge)
  const checksum = (0x100000000 - ((magic + flags) % 0x100000000)) % 0x100000000;
  const words = [magic, flags, checksum, LOAD_ADDRESS, LOAD_ADDRESS, 0, 0, LOAD_ADDRESS + ENTRY_OFFSET];
  const header = Buffer.alloc(ENTRY_OFFSET);
  for (const [i, w] of words.entries()) header.writeUInt32LE(w, i * 4);
  return header;
}

/** A kernel whose entry is `jmp $`: the vCPU spins forever. */
export function spinningMultibootKernel(): Buffer {
  return Buffer.concat([multibootHeader(), Buffer.from([0xeb, 0xfe])]);
}

/**
 * A kernel that writes `text` to the first serial port (COM1, 0x3f8), then
 * spins (`"spin"`) or resets the machine through the keyboard controller
 * (`"reset"`: with `-no-reboot`, QEMU exits).
 */
export function consoleMultibootKernel(text: string, then: "spin" | "reset"): Buffer {
  const message = Buffer.from(`${text}\0`, "latin1");
  const codeLength = 0x18;
  const messageAddress = LOAD_ADDRESS + ENTRY_OFFSET + codeLength;
  const address = Buffer.alloc(4);
  address.writeUInt32LE(messageAddress);
  // prettier-ignore
  const code = Buffer.from([
    0xbe,
    ...address, //        mov esi, message
    0xac, //              next: lodsb
    0x84,
    0xc0, //              test al, al
    0x74,
    0x07, //              jz done
    0x66,
    0xba,
    0xf8,
    0x03, //  mov dx, 0x3f8
    0xee, //                    out dx, al
    0xeb,
    0xf4, //              jmp next
    ...(then === "reset"
      ? [0xb0, 0xfe, 0xe6, 0x64] // done: mov al, 0xfe; out 0x64, al (pulse the reset line)
      : [0x90, 0x90, 0x90, 0x90]), //    done: (nothing)
    0xf4, //                    hlt
    0xeb,
    0xfe, //              jmp $
  ]);
  if (code.length !== codeLength) throw new Error(`tiny kernel code is ${code.length} bytes, expected ${codeLength}`);
  return Buffer.concat([multibootHeader(), code, message]);
}
