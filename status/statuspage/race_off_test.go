//go:build !race

package statuspage

const raceOn = false
