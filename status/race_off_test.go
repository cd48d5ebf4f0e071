//go:build !race

package status

const raceOn = false
