//go:build race

package history

// raceEnabled: the race detector slows SQLite, which is C translated to Go, about thirty times.
const raceEnabled = true
