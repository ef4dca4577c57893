// `tidegate simulate`: replays a load trace through an upstream's `autoscale` policies
// on a simulated clock (scaling/simulator.h) and prints how the instances kept up.
#pragma once

namespace tg::app {

/// Runs `simulate -c CONF --trace CSV [options]`; argv[0] is "simulate". Errors go to
/// stderr as one nginx-like line ("tidegate: simulate: ..."). Returns the exit code:
/// 0, or 1 on any error.
int run_simulate(int argc, char** argv);

}  // namespace tg::app
