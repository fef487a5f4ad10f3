//! CRC-32C of a concatenation from the CRCs of its parts, as zlib's `crc32_combine` does:
//! multiply the first CRC by x^(8·len2) modulo the polynomial, then add the second.
//! The `crc32c` crate's own combine builds a fresh 32×32 GF(2) matrix power per call,
//! tens of microseconds each: far too slow for one call per page of a large snapshot.

/// CRC-32C (Castagnoli), reflected.
const POLY: u32 = 0x82F6_3B78;

/// `a · b mod P`, both in reflected bit order (bit 31 is x^0).
const fn multmodp(a: u32, mut b: u32) -> u32 {
    let mut m: u32 = 1 << 31;
    let mut p: u32 = 0;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                break;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    p
}

/// `X2N[k]` is x^(2^k) mod P.
const X2N: [u32; 32] = {
    let mut t = [0u32; 32];
    let mut p: u32 = 1 << 30; // x^1
    let mut k = 0;
    while k < 32 {
        t[k] = p;
        p = multmodp(p, p);
        k += 1;
    }
    t
};

/// x^(n · 2^k) mod P.
fn x2nmodp(mut n: u64, mut k: usize) -> u32 {
    let mut p: u32 = 1 << 31; // x^0
    while n != 0 {
        if n & 1 != 0 {
            p = multmodp(X2N[k & 31], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

/// The CRC-32C of `A ++ B` from `crc(A)`, `crc(B)` and the length of `B` in bytes.
pub fn combine(crc1: u32, crc2: u32, len2: u64) -> u32 {
    multmodp(x2nmodp(len2, 3), crc1) ^ crc2
}

#[cfg(test)]
mod tests {
    use super::combine;

    #[test]
    fn matches_the_crc_of_the_concatenation_and_the_crates_combine() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for cut in [0, 1, 31, 32, 1000, 4096, 4999, 5000] {
            let (a, b) = data.split_at(cut);
            let (ca, cb) = (crc32c::crc32c(a), crc32c::crc32c(b));
            let whole = crc32c::crc32c(&data);
            assert_eq!(combine(ca, cb, b.len() as u64), whole, "cut {cut}");
            assert_eq!(crc32c::crc32c_combine(ca, cb, b.len()), whole, "cut {cut}");
        }
        assert_eq!(combine(0x1234_5678, 0, 0), 0x1234_5678);
    }
}
