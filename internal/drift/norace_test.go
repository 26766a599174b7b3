//go:build !race

package drift_test

// raceEnabled tells the slowest tests that the race detector is on.
const raceEnabled = false
