// The stepscope subcommands; main() dispatches on the first argument.
#pragma once

int run_gui(int argc, char** argv);
int run_replay(int argc, char** argv);  // argv[0] is "replay"
int run_export(int argc, char** argv);  // argv[0] is "export"
int run_bench(int argc, char** argv);   // argv[0] is "bench"
int run_eval(int argc, char** argv);    // argv[0] is "eval"
int run_generate(int argc, char** argv);  // argv[0] is "generate"
