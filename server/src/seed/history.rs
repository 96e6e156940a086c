//! Synthetic order histories with a known structure, for the demo shop's first start and for the
//! recommendation evaluation (the tools crate's `recs-eval`), plus a CSV reader for real histories.
//!
//! Structure: within each department, products form "bundles" of four (consecutive ids of that
//! department). Each customer favours one or two departments; most orders take two or three
//! products from one bundle of a favourite department, some add an unrelated impulse buy.

use app::domain::recs::DAY_MS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub customer: String,
    pub order: String,
    pub products: Vec<i64>,
    pub at_ms: i64,
}

/// A tiny deterministic generator (splitmix64), so every run sees the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// `products`: (id, category id) of every product. Orders are spread over the 120 days before
/// `end_ms`, in time order per customer.
pub fn generate(products: &[(i64, i64)], customers: usize, seed: u64, end_ms: i64) -> Vec<Order> {
    let mut rng = Rng(seed);
    let mut by_category: std::collections::BTreeMap<i64, Vec<i64>> = std::collections::BTreeMap::new();
    for &(id, c) in products {
        by_category.entry(c).or_default().push(id);
    }
    let categories: Vec<(i64, Vec<Vec<i64>>)> = by_category
        .into_iter()
        .map(|(c, mut ids)| {
            ids.sort_unstable();
            (c, ids.chunks(4).filter(|b| b.len() >= 3).map(<[i64]>::to_vec).collect())
        })
        .collect();
    if categories.is_empty() {
        return vec![];
    }
    let all: Vec<i64> = products.iter().map(|p| p.0).collect();
    let span = 120 * DAY_MS;
    let mut orders = Vec::new();
    for c in 0..customers {
        let favourites: Vec<usize> = if rng.chance(60) {
            vec![rng.below(categories.len())]
        } else {
            vec![rng.below(categories.len()), rng.below(categories.len())]
        };
        let count = 3 + rng.below(6);
        let mut at = end_ms - span + (rng.below(20) as i64) * DAY_MS;
        for o in 0..count {
            let category =
                if rng.chance(85) { favourites[rng.below(favourites.len())] } else { rng.below(categories.len()) };
            let bundles = &categories[category].1;
            if bundles.is_empty() {
                continue;
            }
            let bundle = &bundles[rng.below(bundles.len())];
            let take = 2 + rng.below(2);
            let mut picked: Vec<i64> = Vec::new();
            while picked.len() < take.min(bundle.len()) {
                let p = bundle[rng.below(bundle.len())];
                if !picked.contains(&p) {
                    picked.push(p);
                }
            }
            if rng.chance(20) {
                let p = all[rng.below(all.len())];
                if !picked.contains(&p) {
                    picked.push(p);
                }
            }
            at = (at + (1 + rng.below(14) as i64) * DAY_MS).min(end_ms - 1);
            orders.push(Order { customer: format!("c{c}"), order: format!("c{c}-o{o}"), products: picked, at_ms: at });
        }
    }
    orders
}

/// Reads `customer,order,product,timestamp` rows (a header line is skipped; the timestamp is
/// Unix seconds or milliseconds). Rows with the same customer and order form one order.
pub fn read_csv(text: &str) -> Result<Vec<Order>, String> {
    let mut orders: Vec<Order> = Vec::new();
    let mut index: std::collections::HashMap<(String, String), usize> = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() != 4 {
            return Err(format!("line {}: expected 4 columns (customer,order,product,timestamp)", n + 1));
        }
        let (Ok(product), Ok(ts)) = (cols[2].parse::<i64>(), cols[3].parse::<i64>()) else {
            if n == 0 {
                continue; // a header
            }
            return Err(format!("line {}: product and timestamp must be whole numbers", n + 1));
        };
        let at_ms = if ts < 100_000_000_000 { ts * 1000 } else { ts };
        let key = (cols[0].to_string(), cols[1].to_string());
        match index.get(&key) {
            Some(&i) => {
                let o = &mut orders[i];
                if !o.products.contains(&product) {
                    o.products.push(product);
                }
                o.at_ms = o.at_ms.max(at_ms);
            }
            None => {
                index.insert(key.clone(), orders.len());
                orders.push(Order { customer: key.0, order: key.1, products: vec![product], at_ms });
            }
        }
    }
    orders.sort_by(|a, b| a.at_ms.cmp(&b.at_ms).then(a.order.cmp(&b.order)));
    Ok(orders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_structured() {
        let products: Vec<(i64, i64)> = (1..=80).map(|i| (i, (i - 1) / 20)).collect();
        let a = generate(&products, 50, 7, 1_000 * DAY_MS);
        assert_eq!(a, generate(&products, 50, 7, 1_000 * DAY_MS));
        assert!(a.len() >= 150);
        // Most orders stay within one department.
        let within = a.iter().filter(|o| o.products.iter().all(|p| (p - 1) / 20 == (o.products[0] - 1) / 20)).count();
        assert!(within * 100 / a.len() >= 70, "{within} of {}", a.len());
        assert!(a.iter().all(|o| o.at_ms < 1_000 * DAY_MS && o.products.len() >= 2));
    }

    #[test]
    fn csv_groups_lines_into_orders() {
        let text =
            "customer,order,product,timestamp\nann,1,10,1700000000\nann,1,11,1700000001\nbob,7,10,1700000100000\n";
        let orders = read_csv(text).unwrap();
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].products, vec![10, 11]);
        assert_eq!(orders[0].at_ms, 1_700_000_001_000);
        assert_eq!(orders[1].at_ms, 1_700_000_100_000);
        assert!(read_csv("ann,1,x,5\nbob,2,3,4\nx,y,z,w").is_err());
        assert!(read_csv("a,b,c").is_err());
    }
}
