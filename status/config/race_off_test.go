//go:build !race

package config

const raceOn = false
