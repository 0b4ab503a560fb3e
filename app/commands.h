// The stepscope commands; main() dispatches on the first argument. Each takes argv[0] as its own name.
#pragma once

int run_replay(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_generate(int argc, char** argv);

// The GUI build's (STEPSCOPE_GUI): the explorer window, and export, which draws its plots with Qt Widgets.
int run_gui(int argc, char** argv);
int run_export(int argc, char** argv);
