// How Node runs Chantal: the chantal-run shebang, the systemd unit and the container entry use these flags.
// Below 2 GB of old space V8 lets the heap grow to ~2x the live data between full collections instead of 4x,
// which keeps a 100,000-package sync near 220 MB instead of 300-470 MB (bench/README.md). 1536 MB is a
// policy, not a limit a sync is expected to reach: 1,000,000 packages need ~600 MB.
export const NODE_FLAGS = ["--max-old-space-size=1536"] as const;
