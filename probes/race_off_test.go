//go:build !race

package probes

const raceOn = false
