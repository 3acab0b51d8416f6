package analyze

import "math"

// ByteStats is the byte histogram summary VirusTotal reports for sections,
// resources and overlays.
type ByteStats struct {
	// Entropy is the Shannon entropy in bits per byte (0..8); 0 for empty data.
	Entropy float64
	// Chi2 is Pearson's chi-square of the byte histogram against the uniform
	// distribution (expected N/256 per value); -1 for empty data.
	Chi2 float64
}

// Stats computes ByteStats over b in one pass.
func Stats(b []byte) ByteStats {
	if len(b) == 0 {
		return ByteStats{Entropy: 0, Chi2: -1}
	}
	var counts [256]uint64
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	expected := n / 256
	var h, chi float64
	for _, c := range counts {
		d := float64(c) - expected
		chi += d * d / expected
		if c == 0 {
			continue
		}
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return ByteStats{Entropy: h, Chi2: chi}
}

// round2 rounds to 2 decimals, as VirusTotal prints section values.
func round2(f float64) float64 { return math.Round(f*100) / 100 }

// asFloat32 rounds to float32 precision, as VirusTotal prints resource and
// overlay entropy.
func asFloat32(f float64) float64 { return float64(float32(f)) }
