#pragma once
// The command-line front end: `tandem <command> ...`.

namespace tandem::cli {

// Parses the command line, runs the command, and returns the process exit code:
// 0 on success, 1 on a reported error (bad file, bad input), 2 on a usage error.
int run(int argc, char** argv);

}  // namespace tandem::cli
