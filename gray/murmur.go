package gray

import "math/bits"

// Murmur3 is the 32-bit x86 MurmurHash3 of s with seed 0, the hash
// Unleash's gradual rollout uses.
func Murmur3(s string) uint32 { return murmur3(s, "", "") }

// murmur3 hashes the concatenation a+b+c without building it, so that the
// evaluation hot path does not allocate.
func murmur3(a, b, c string) uint32 { return murmur3Seed(0, a, b, c) }

// murmur3Seed is murmur3 with a seed (Unleash hashes variants with
// VariantSeed).
func murmur3Seed(seed uint32, a, b, c string) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	var k uint32 // pending bytes, little-endian
	var n int    // pending byte count
	total := len(a) + len(b) + len(c)
	feed := func(s string) {
		for i := 0; i < len(s); i++ {
			k |= uint32(s[i]) << (8 * n)
			n++
			if n == 4 {
				k *= c1
				k = bits.RotateLeft32(k, 15)
				k *= c2
				h ^= k
				h = bits.RotateLeft32(h, 13)
				h = h*5 + 0xe6546b64
				k, n = 0, 0
			}
		}
	}
	feed(a)
	feed(b)
	feed(c)
	if n > 0 {
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(total)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// Bucket is the bucket of key in group, in 1…buckets (100 or 1000). With
// 100 buckets it is Unleash's normalized value, murmur3(group + ":" + key)
// % 100 + 1, so it matches Unleash's gradual-rollout stickiness. The
// per-mille bucket refines the percent bucket — (h % 100) * 10 +
// (h / 100) % 10 + 1 — so that a ramp from 3‰ to 5% keeps every user it
// already had: per-mille bucket ≤ 10p exactly when percent bucket ≤ p.
func Bucket(group, key string, buckets uint32) uint32 {
	return bucketOf(permille(murmur3(group, ":", key)), buckets)
}

// permille places a hash in 0…999 so that h % 100 is its leading digits.
func permille(h uint32) uint32 { return (h%100)*10 + (h/100)%10 }

// bucketOf is the 1-based bucket of a per-mille position.
func bucketOf(m, buckets uint32) uint32 {
	if buckets == 100 {
		return m/10 + 1
	}
	return m + 1
}
