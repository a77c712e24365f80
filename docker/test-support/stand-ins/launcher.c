/*
 * A stand-in program as a real ELF executable (docker/Dockerfile strips and
 * ldd-checks the single binaries it copies, so a script would not do). It runs
 * the embedded programs.py with python3, naming the program it stands in for
 * by the name it was called as (argv[0]'s base name: minio, clickhouse,
 * clickhouse-server, svix-server, qstash, inbucket, stripe-mock).
 *
 * Built by docker/test-support/hexclave-stand-ins.ts: program.h holds
 * `static const char program_py[]`, the bytes of programs.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "program.h"

int main(int argc, char **argv) {
  const char *name = strrchr(argv[0], '/');
  name = name ? name + 1 : argv[0];
  char **args = calloc((size_t)argc + 4, sizeof(char *));
  if (args == NULL) return 127;
  args[0] = "python3";
  args[1] = "-c";
  args[2] = (char *)program_py;
  args[3] = (char *)name;
  for (int i = 1; i < argc; i++) args[3 + i] = argv[i];
  execvp("python3", args);
  fprintf(stderr, "%s (stand-in): cannot run python3: ", name);
  perror("");
  return 127;
}
