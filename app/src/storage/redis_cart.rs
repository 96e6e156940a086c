//! Carts in Redis: one hash per cart, `cart:<owner key>`. Field `_v` is the version; every other
//! field is a product id whose value is `quantity|price seen|position`. Each operation is one Lua
//! script, so it runs atomically on the server: concurrent adds to one cart never lose an update.
//!
//! With write-behind (`CART_PERSISTENCE=write-behind`) the same scripts also mark every changed
//! cart in a sorted set (`carts:dirty`, scored by the time of the change) in the same atomic step,
//! and a cart missing from Redis (never loaded, expired, or lost with Redis) is first refilled
//! from SQL, so a change never starts from an empty cart that SQL knows better
//! (`storage/write_behind.rs` writes the marked carts back).

use super::cart_store::{CartOwner, CartStore, Change, Claim, LineChange, Mode, StoreError};
use super::redis::{Redis, RedisError};
use super::sql_cart::SqlCartStore;
use crate::domain::cart::{StoredCart, StoredLine, MAX_QUANTITY};
use async_trait::async_trait;
use fred::prelude::{HashesInterface, Value};
use fred::types::scripts::Script;
use std::sync::Arc;

/// Parses `q|p|s`, counts lines, and refuses to touch a claimed cart.
const PARSE: &str = r#"
local function parse(v)
  local q, p, s = string.match(v, '^(%d+)|(%-?%d+)|(%d+)$')
  return tonumber(q), p, s
end
local function lines_in(key)
  local n = redis.call('HLEN', key)
  for _, f in ipairs({'_v', '_c', '_ct'}) do
    if redis.call('HEXISTS', key, f) == 1 then n = n - 1 end
  end
  return n
end
local function claimed(key)
  local c = redis.call('HGET', key, '_c')
  if c then return {'claimed', c, redis.call('HGET', key, '_ct') or '0'} end
  return nil
end
-- KEYS[2], with write-behind, is the set of carts changed since they were last written to SQL.
local function touched(key)
  if KEYS[2] then
    local t = redis.call('TIME')
    redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), key)
  end
end
-- With write-behind a cart absent from Redis may be in SQL: the caller refills it and asks again.
local function missing(key)
  return KEYS[2] ~= nil and redis.call('EXISTS', key) == 0
end
local function with_hash(head, key)
  local all = redis.call('HGETALL', key)
  for i = 1, #all do head[#head + 1] = all[i] end
  return head
end
"#;

const CHANGE: &str = r#"
local key, pid, mode = KEYS[1], ARGV[1], ARGV[2]
local qty, cap, price = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local max_lines, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
if missing(key) then return {'missing'} end
local busy = claimed(key)
if busy then return busy end
local cur = redis.call('HGET', key, pid)
local old, old_price, pos = 0, nil, nil
if cur then old, old_price, pos = parse(cur) end
local want = qty
if mode == 'add' then want = old + qty end
local capped = 0
if want > cap then want = cap; capped = 1 end
local status, changed = 'ok', false
if want == 0 then
  if cur then redis.call('HDEL', key, pid); changed = true end
elseif not cur then
  if lines_in(key) >= max_lines then status = 'full'; want = old else changed = true end
elseif want ~= old or price ~= old_price then
  changed = true
end
if changed then
  local v = redis.call('HINCRBY', key, '_v', 1)
  if want > 0 then redis.call('HSET', key, pid, want .. '|' .. price .. '|' .. (pos or v)) end
  redis.call('EXPIRE', key, ttl)
  touched(key)
end
return with_hash({status, tostring(want), tostring(capped)}, key)
"#;

const REMOVE: &str = r#"
local key, ttl = KEYS[1], tonumber(ARGV[2])
if missing(key) then return {'missing'} end
local busy = claimed(key)
if busy then return busy end
if redis.call('HDEL', key, ARGV[1]) == 1 then
  redis.call('HINCRBY', key, '_v', 1)
  redis.call('EXPIRE', key, ttl)
  touched(key)
end
return with_hash({'ok'}, key)
"#;

const CLEAR: &str = r#"
local key, ttl = KEYS[1], tonumber(ARGV[1])
if missing(key) then return {'missing'} end
local busy = claimed(key)
if busy then return busy end
local v = redis.call('HINCRBY', key, '_v', 1)
redis.call('DEL', key)
redis.call('HSET', key, '_v', v)
redis.call('EXPIRE', key, ttl)
touched(key)
return with_hash({'ok'}, key)
"#;

const RESTORE: &str = r#"
local key, ttl = KEYS[1], tonumber(ARGV[1])
if missing(key) then return {'missing'} end
-- Pristine: never written (a refilled cart SQL never knew has version 0 and no lines).
if tonumber(redis.call('HGET', key, '_v') or '0') > 0 or lines_in(key) > 0 then return {'no'} end
for i = 2, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', key, '_v', 1)
redis.call('EXPIRE', key, ttl)
touched(key)
return with_hash({'ok'}, key)
"#;

/// Marks the cart as taken by `claim` (an order being placed, a sign-in merging it) and returns
/// its lines. While claimed, nothing else changes it; the same claim may ask again.
const CLAIM: &str = r#"
local key, claim, now, expected, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if missing(key) then return {'missing'} end
local current = redis.call('HGET', key, '_c')
if current and current ~= claim then return claimed(key) end
local v = tonumber(redis.call('HGET', key, '_v') or '0')
if expected >= 0 and v ~= expected then return with_hash({'changed'}, key) end
-- No cart at all: nothing to hold (and nothing is written).
if redis.call('EXISTS', key) == 0 then return {'ok'} end
if not current then
  redis.call('HSET', key, '_c', claim, '_ct', now)
  redis.call('EXPIRE', key, ttl)
end
return with_hash({'ok'}, key)
"#;

/// The claim did its work (the order or the merge is committed): the lines go, the version moves on.
const FINISH: &str = r#"
local key, claim, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('HGET', key, '_c') ~= claim then return 'no' end
local v = redis.call('HINCRBY', key, '_v', 1)
redis.call('DEL', key)
redis.call('HSET', key, '_v', v)
redis.call('EXPIRE', key, ttl)
touched(key)
return 'ok'
"#;

/// The claim came to nothing: the cart is the shopper's again (with a new version when `bump`,
/// so a quote for the old one cannot be used).
const RELEASE: &str = r#"
local key, claim, bump = KEYS[1], ARGV[1], ARGV[2]
if redis.call('HGET', key, '_c') ~= claim then return 'no' end
redis.call('HDEL', key, '_c', '_ct')
if bump == '1' then redis.call('HINCRBY', key, '_v', 1); touched(key) end
return 'ok'
"#;

/// Write-behind: puts SQL's copy of a cart into Redis. With no claim (ARGV[1] empty) only if
/// Redis has none (a refill); with one, in place of the cart that claim holds, which is then the
/// shopper's again (after a sign-in merge wrote the merged cart to SQL). Then the TTL, the version
/// and `product id`, `q|p|position` pairs. Not marked: it is what SQL holds.
const LOAD: &str = r#"
local key, claim, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
if claim == '' then
  if redis.call('EXISTS', key) == 1 then return 'no' end
else
  if redis.call('HGET', key, '_c') ~= claim then return 'no' end
  redis.call('DEL', key)
end
redis.call('HSET', key, '_v', ARGV[3])
for i = 4, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', key, ttl)
return 'ok'
"#;

/// Write-behind: the cart was written to SQL at version ARGV[1]; it is clean unless it changed
/// since (or is gone, with nothing left to write).
const UNMARK: &str = r#"
local v = redis.call('HGET', KEYS[1], '_v')
if v and tonumber(v) > tonumber(ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[2], KEYS[1])
return 1
"#;

struct Scripts {
    change: Script,
    remove: Script,
    clear: Script,
    restore: Script,
    claim: Script,
    finish: Script,
    release: Script,
    load: Script,
    unmark: Script,
}

/// The sorted set of carts changed in Redis and not yet written to SQL (write-behind).
pub const DIRTY_SET: &str = "carts:dirty";

#[derive(Clone)]
pub struct RedisCartStore {
    redis: Redis,
    ttl_secs: i64,
    scripts: Arc<Scripts>,
    /// With write-behind: where a cart missing from Redis is refilled from, and every change is
    /// marked for writing back.
    behind: Option<SqlCartStore>,
}

impl From<RedisError> for StoreError {
    fn from(e: RedisError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

fn script(body: &str) -> Script {
    Script::from_lua(format!("{PARSE}\n{body}"))
}

/// The SHA-1 under which Redis knows the claim-finishing script (fault tests drop it on purpose).
pub fn finish_script_sha() -> String {
    script(FINISH).sha1().to_string()
}

/// The SHA-1 of the claim-releasing script.
pub fn release_script_sha() -> String {
    script(RELEASE).sha1().to_string()
}

/// Turns `HGETALL` pairs into a cart, lines in the order they were first added, and the claim
/// on it if there is one.
fn parse_hash(pairs: &[String]) -> Result<(StoredCart, Option<Claim>), StoreError> {
    let mut cart = StoredCart::default();
    let mut positioned = Vec::new();
    let (mut claim, mut since_ms) = (None, 0);
    for pair in pairs.chunks(2) {
        let [field, value] = pair else { return Err(StoreError::Backend("odd HGETALL reply".into())) };
        match field.as_str() {
            "_v" => {
                cart.version = value.parse().map_err(|_| StoreError::Backend("bad cart version".into()))?;
                continue;
            }
            "_c" => {
                claim = Some(value.clone());
                continue;
            }
            "_ct" => {
                since_ms = value.parse().unwrap_or(0);
                continue;
            }
            _ => {}
        }
        let variant_id: i64 = field.parse().map_err(|_| StoreError::Backend(format!("bad cart field {field}")))?;
        let mut parts = value.split('|');
        let (Some(q), Some(p), Some(pos)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(StoreError::Backend(format!("bad cart line {value}")));
        };
        let quantity: u32 = q.parse().map_err(|_| StoreError::Backend("bad quantity".into()))?;
        let price_cents: i64 = p.parse().map_err(|_| StoreError::Backend("bad price".into()))?;
        let pos: i64 = pos.parse().map_err(|_| StoreError::Backend("bad position".into()))?;
        positioned.push((pos, StoredLine { variant_id, quantity, price_cents }));
    }
    positioned.sort_by_key(|(pos, l)| (*pos, l.variant_id));
    cart.lines = positioned.into_iter().map(|(_, l)| l).collect();
    Ok((cart, claim.map(|id| Claim { id, since_ms })))
}

/// A script reply that starts with a status word; `claimed` replies become `StoreError::Claimed`.
fn status_reply(values: Vec<Value>) -> Result<Vec<String>, StoreError> {
    let out: Vec<String> = values.into_iter().map(|v| v.as_string().unwrap_or_default()).collect();
    match out.first().map(String::as_str) {
        Some("claimed") if out.len() >= 3 => {
            Err(StoreError::Claimed(Claim { id: out[1].clone(), since_ms: out[2].parse().unwrap_or(0) }))
        }
        Some(_) => Ok(out),
        None => Err(StoreError::Backend("empty reply from cart script".into())),
    }
}

/// A cart read through a script: never claimed (the script refused otherwise).
fn unclaimed(pairs: &[String]) -> Result<StoredCart, StoreError> {
    match parse_hash(pairs)? {
        (cart, None) => Ok(cart),
        (_, Some(claim)) => Err(StoreError::Claimed(claim)),
    }
}

/// Lines as hash fields: `product id`, `quantity|price seen|position` (positions keep the order).
fn line_fields(lines: &[StoredLine]) -> Vec<String> {
    let mut out = Vec::with_capacity(lines.len() * 2);
    for (i, l) in lines.iter().enumerate() {
        out.push(l.variant_id.to_string());
        out.push(format!("{}|{}|{}", l.quantity.min(MAX_QUANTITY), l.price_cents, i));
    }
    out
}

/// The answer to a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The cart is now held by the claim (or already was); its lines.
    Claimed(StoredCart),
    /// The cart is not at the expected version any more; what it holds now.
    Changed(StoredCart),
}

impl RedisCartStore {
    /// `ttl_secs`: how long an untouched cart is kept (the session lifetime for guests).
    pub fn new(redis: Redis, ttl_secs: i64) -> Self {
        RedisCartStore {
            redis,
            ttl_secs,
            scripts: Arc::new(Scripts {
                change: script(CHANGE),
                remove: script(REMOVE),
                clear: script(CLEAR),
                restore: script(RESTORE),
                claim: script(CLAIM),
                finish: script(FINISH),
                release: script(RELEASE),
                load: script(LOAD),
                unmark: script(UNMARK),
            }),
            behind: None,
        }
    }

    /// The write-behind store: Redis holds every change, `sql` gets them later
    /// (`storage/write_behind.rs`) and fills in carts Redis does not have.
    pub fn write_behind(redis: Redis, ttl_secs: i64, sql: SqlCartStore) -> Self {
        RedisCartStore { behind: Some(sql), ..Self::new(redis, ttl_secs) }
    }

    pub fn is_write_behind(&self) -> bool {
        self.behind.is_some()
    }

    pub(crate) fn key(owner: &CartOwner) -> String {
        format!("cart:{}", owner.key())
    }

    /// The cart's key, and with write-behind the dirty set the scripts mark it in.
    fn keys(&self, owner: &CartOwner) -> Vec<String> {
        let mut keys = vec![Self::key(owner)];
        if self.behind.is_some() {
            keys.push(DIRTY_SET.to_string());
        }
        keys
    }

    async fn eval(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> Result<Vec<Value>, StoreError> {
        let client = self.redis.pool.next();
        Ok(self.redis.call(script.evalsha_with_reload::<Vec<Value>, _, _>(client, keys, args)).await?)
    }

    async fn eval_word(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> Result<bool, StoreError> {
        let client = self.redis.pool.next();
        let word: String = self.redis.call(script.evalsha_with_reload::<String, _, _>(client, keys, args)).await?;
        Ok(word == "ok")
    }

    /// Runs a cart script; with write-behind, a cart Redis does not hold is first refilled from
    /// SQL and the script run again.
    async fn run(&self, script: &Script, owner: &CartOwner, args: Vec<String>) -> Result<Vec<String>, StoreError> {
        if self.behind.is_none() {
            return status_reply(self.eval(script, self.keys(owner), args).await?);
        }
        let out = status_reply(self.eval(script, self.keys(owner), args.clone()).await?)?;
        if out[0] != "missing" {
            return Ok(out);
        }
        self.refill(owner).await?;
        let out = status_reply(self.eval(script, self.keys(owner), args).await?)?;
        if out[0] == "missing" {
            return Err(StoreError::Unavailable("the cart vanished from Redis while it was refilled".into()));
        }
        Ok(out)
    }

    /// Write-behind: copies SQL's cart into Redis when Redis has none (a no-op otherwise).
    async fn refill(&self, owner: &CartOwner) -> Result<(), StoreError> {
        let Some(sql) = &self.behind else { return Ok(()) };
        let cart = sql.load(owner).await?;
        self.load_from_sql(owner, "", &cart).await?;
        metrics::counter!("shop_cart_refills_total").increment(1);
        Ok(())
    }

    /// Write-behind: a cart this process holds with `claim_id` becomes `cart` (what SQL holds now)
    /// and is released.
    pub async fn replace_claimed(
        &self,
        owner: &CartOwner,
        claim_id: &str,
        cart: &StoredCart,
    ) -> Result<bool, StoreError> {
        self.load_from_sql(owner, claim_id, cart).await
    }

    /// Runs LOAD: `cart` into Redis, if absent (`claim_id` empty) or in place of the claimed cart.
    async fn load_from_sql(&self, owner: &CartOwner, claim_id: &str, cart: &StoredCart) -> Result<bool, StoreError> {
        let mut args = vec![claim_id.to_string(), self.ttl_secs.to_string(), cart.version.to_string()];
        args.extend(line_fields(&cart.lines));
        self.eval_word(&self.scripts.load, vec![Self::key(owner)], args).await
    }

    /// Write-behind: `owner`'s cart reached SQL at `version`; clears its mark unless it changed
    /// since. True when it is clean now.
    pub async fn unmark(&self, owner: &CartOwner, version: u64) -> Result<bool, StoreError> {
        let client = self.redis.pool.next();
        let keys = vec![Self::key(owner), DIRTY_SET.to_string()];
        let done: i64 = self
            .redis
            .call(self.scripts.unmark.evalsha_with_reload::<i64, _, _>(client, keys, vec![version.to_string()]))
            .await?;
        Ok(done == 1)
    }

    /// The cart and the claim on it, if any. With write-behind, a cart Redis does not hold is
    /// read from SQL and put back into Redis.
    pub async fn read(&self, owner: &CartOwner) -> Result<(StoredCart, Option<Claim>), StoreError> {
        match self.read_present(owner).await? {
            Some(found) => Ok(found),
            None if self.behind.is_some() => {
                self.refill(owner).await?;
                Ok(self.read_present(owner).await?.unwrap_or_default())
            }
            None => Ok(Default::default()),
        }
    }

    /// The cart and its claim as Redis holds them; `None` when Redis has no such cart.
    pub(crate) async fn read_present(
        &self,
        owner: &CartOwner,
    ) -> Result<Option<(StoredCart, Option<Claim>)>, StoreError> {
        let client = self.redis.pool.next();
        let pairs: std::collections::HashMap<String, String> =
            self.redis.call(client.hgetall(Self::key(owner))).await?;
        if pairs.is_empty() {
            return Ok(None);
        }
        let flat: Vec<String> = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
        parse_hash(&flat).map(Some)
    }

    /// Takes the cart for `claim_id` if it is at `expected_version` (any version when `None`).
    /// A cart held by another claim answers `StoreError::Claimed`.
    pub async fn claim(
        &self,
        owner: &CartOwner,
        claim_id: &str,
        expected_version: Option<u64>,
    ) -> Result<ClaimOutcome, StoreError> {
        let expected = expected_version.map(|v| v as i64).unwrap_or(-1);
        let args = vec![
            claim_id.to_string(),
            crate::storage::db::now_ms().to_string(),
            expected.to_string(),
            self.ttl_secs.to_string(),
        ];
        let out = self.run(&self.scripts.claim, owner, args).await?;
        let (cart, _) = parse_hash(&out[1..])?;
        Ok(match out[0].as_str() {
            "changed" => ClaimOutcome::Changed(cart),
            _ => ClaimOutcome::Claimed(cart),
        })
    }

    /// Empties a cart held by `claim_id` and moves its version on; false when it is not held by it.
    pub async fn finish_claim(&self, owner: &CartOwner, claim_id: &str) -> Result<bool, StoreError> {
        self.eval_word(&self.scripts.finish, self.keys(owner), vec![claim_id.into(), self.ttl_secs.to_string()]).await
    }

    /// Gives a cart held by `claim_id` back unchanged (with a new version when `bump`).
    pub async fn release_claim(&self, owner: &CartOwner, claim_id: &str, bump: bool) -> Result<bool, StoreError> {
        let args = vec![claim_id.into(), if bump { "1" } else { "0" }.into()];
        self.eval_word(&self.scripts.release, self.keys(owner), args).await
    }
}

#[async_trait]
impl CartStore for RedisCartStore {
    /// A claimed cart answers `StoreError::Claimed`: use `read` to see it anyway.
    async fn load(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        match self.read(owner).await? {
            (cart, None) => Ok(cart),
            (_, Some(claim)) => Err(StoreError::Claimed(claim)),
        }
    }

    async fn change(&self, owner: &CartOwner, change: LineChange) -> Result<Change, StoreError> {
        let LineChange { variant_id, mode, quantity, cap, price_cents, max_lines } = change;
        let args = vec![
            variant_id.to_string(),
            match mode {
                Mode::Add => "add".into(),
                Mode::Set => "set".into(),
            },
            quantity.to_string(),
            cap.to_string(),
            price_cents.to_string(),
            max_lines.to_string(),
            self.ttl_secs.to_string(),
        ];
        let out = self.run(&self.scripts.change, owner, args).await?;
        if out.len() < 3 {
            return Err(StoreError::Backend("short reply from cart script".into()));
        }
        if out[0] == "full" {
            return Err(StoreError::CartFull);
        }
        let cart = unclaimed(&out[3..])?;
        Ok(Change { cart, quantity: out[1].parse().unwrap_or(0), capped: out[2] == "1" })
    }

    async fn remove(&self, owner: &CartOwner, variant_id: i64) -> Result<StoredCart, StoreError> {
        let args = vec![variant_id.to_string(), self.ttl_secs.to_string()];
        let out = self.run(&self.scripts.remove, owner, args).await?;
        unclaimed(&out[1..])
    }

    async fn clear(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        let out = self.run(&self.scripts.clear, owner, vec![self.ttl_secs.to_string()]).await?;
        unclaimed(&out[1..])
    }

    async fn restore_if_pristine(
        &self,
        owner: &CartOwner,
        lines: &[StoredLine],
    ) -> Result<Option<StoredCart>, StoreError> {
        let mut args = vec![self.ttl_secs.to_string()];
        args.extend(line_fields(lines));
        let out = self.run(&self.scripts.restore, owner, args).await?;
        if out[0] != "ok" {
            return Ok(None);
        }
        unclaimed(&out[1..]).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_replies_become_ordered_carts() {
        let pairs: Vec<String> = ["_v", "5", "12", "2|999|3", "7", "1|150|1"].iter().map(|s| s.to_string()).collect();
        let (cart, claim) = parse_hash(&pairs).unwrap();
        assert_eq!(claim, None);
        assert_eq!(cart.version, 5);
        assert_eq!(cart.lines[0], StoredLine { variant_id: 7, quantity: 1, price_cents: 150 });
        assert_eq!(cart.lines[1], StoredLine { variant_id: 12, quantity: 2, price_cents: 999 });
        assert!(parse_hash(&["x".to_string(), "1|1|1".to_string()]).is_err());
        let claimed: Vec<String> =
            ["_v", "2", "_c", "o:abc", "_ct", "17", "7", "1|150|1"].iter().map(|s| s.to_string()).collect();
        let (cart, claim) = parse_hash(&claimed).unwrap();
        assert_eq!(claim, Some(Claim { id: "o:abc".into(), since_ms: 17 }));
        assert_eq!(cart.lines.len(), 1);
    }
}
