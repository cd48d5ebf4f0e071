//go:build race

package config

// raceOn: the race detector changes what allocates, so the tests of
// allocated bytes do not bound them under it.
const raceOn = true
