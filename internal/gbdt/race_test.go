//go:build race

package gbdt_test

// raceEnabled tells tests that the race detector is on.
const raceEnabled = true
