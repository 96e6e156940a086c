//! Carts in Redis: one hash per cart, `cart:<owner key>`. Field `_v` is the version; every other
//! field is a product id whose value is `quantity|price seen|position`. Each operation is one Lua
//! script, so it runs atomically on the server: concurrent adds to one cart never lose an update.

use super::cart_store::{CartOwner, CartStore, Change, LineChange, Mode, StoreError};
use super::redis::{Redis, RedisError};
use crate::domain::cart::{StoredCart, StoredLine, MAX_QUANTITY};
use async_trait::async_trait;
use fred::prelude::{HashesInterface, Value};
use fred::types::scripts::Script;
use std::sync::Arc;

/// Parses `q|p|s`.
const PARSE: &str = r#"
local function parse(v)
  local q, p, s = string.match(v, '^(%d+)|(%-?%d+)|(%d+)$')
  return tonumber(q), p, s
end
local function lines_in(key)
  local n = redis.call('HLEN', key)
  if redis.call('HEXISTS', key, '_v') == 1 then n = n - 1 end
  return n
end
"#;

const CHANGE: &str = r#"
local key, pid, mode = KEYS[1], ARGV[1], ARGV[2]
local qty, cap, price = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local max_lines, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
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
end
local out = {status, tostring(want), tostring(capped)}
local all = redis.call('HGETALL', key)
for i = 1, #all do out[#out + 1] = all[i] end
return out
"#;

const REMOVE: &str = r#"
local key, ttl = KEYS[1], tonumber(ARGV[2])
if redis.call('HDEL', key, ARGV[1]) == 1 then
  redis.call('HINCRBY', key, '_v', 1)
  redis.call('EXPIRE', key, ttl)
end
return redis.call('HGETALL', key)
"#;

const CLEAR: &str = r#"
local key, ttl = KEYS[1], tonumber(ARGV[1])
local v = redis.call('HINCRBY', key, '_v', 1)
redis.call('DEL', key)
redis.call('HSET', key, '_v', v)
redis.call('EXPIRE', key, ttl)
return redis.call('HGETALL', key)
"#;

const RESTORE: &str = r#"
local key, ttl = KEYS[1], tonumber(ARGV[1])
if redis.call('EXISTS', key) == 1 then return {'no'} end
for i = 2, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', key, '_v', 1)
redis.call('EXPIRE', key, ttl)
local out = {'ok'}
local all = redis.call('HGETALL', key)
for i = 1, #all do out[#out + 1] = all[i] end
return out
"#;

const TAKE: &str = r#"
local key, ttl = KEYS[1], tonumber(ARGV[1])
local all = redis.call('HGETALL', key)
local v = redis.call('HINCRBY', key, '_v', 1)
redis.call('DEL', key)
redis.call('HSET', key, '_v', v)
redis.call('EXPIRE', key, ttl)
return all
"#;

const PUT_BACK: &str = r#"
local key, ttl, max = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HINCRBY', key, '_v', 1)
for i = 3, #ARGV, 3 do
  local pid, q, price = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local cur = redis.call('HGET', key, pid)
  local old, pos = 0, v
  if cur then local o, _, p = parse(cur); old = o; pos = p end
  local new = old + q
  if new > max then new = max end
  redis.call('HSET', key, pid, new .. '|' .. price .. '|' .. pos)
end
redis.call('EXPIRE', key, ttl)
return 'ok'
"#;

struct Scripts {
    change: Script,
    remove: Script,
    clear: Script,
    restore: Script,
    take: Script,
    put_back: Script,
}

#[derive(Clone)]
pub struct RedisCartStore {
    redis: Redis,
    ttl_secs: i64,
    scripts: Arc<Scripts>,
}

impl From<RedisError> for StoreError {
    fn from(e: RedisError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

fn script(body: &str) -> Script {
    Script::from_lua(format!("{PARSE}\n{body}"))
}

/// Turns `HGETALL` pairs into a cart, lines in the order they were first added.
fn parse_hash(pairs: &[String]) -> Result<StoredCart, StoreError> {
    let mut cart = StoredCart::default();
    let mut positioned = Vec::new();
    for pair in pairs.chunks(2) {
        let [field, value] = pair else { return Err(StoreError::Backend("odd HGETALL reply".into())) };
        if field == "_v" {
            cart.version = value.parse().map_err(|_| StoreError::Backend("bad cart version".into()))?;
            continue;
        }
        let product_id: i64 = field.parse().map_err(|_| StoreError::Backend(format!("bad cart field {field}")))?;
        let mut parts = value.split('|');
        let (Some(q), Some(p), Some(pos)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(StoreError::Backend(format!("bad cart line {value}")));
        };
        let quantity: u32 = q.parse().map_err(|_| StoreError::Backend("bad quantity".into()))?;
        let price_cents: i64 = p.parse().map_err(|_| StoreError::Backend("bad price".into()))?;
        let pos: i64 = pos.parse().map_err(|_| StoreError::Backend("bad position".into()))?;
        positioned.push((pos, StoredLine { product_id, quantity, price_cents }));
    }
    positioned.sort_by_key(|(pos, l)| (*pos, l.product_id));
    cart.lines = positioned.into_iter().map(|(_, l)| l).collect();
    Ok(cart)
}

fn strings(values: Vec<Value>) -> Vec<String> {
    values.into_iter().map(|v| v.as_string().unwrap_or_default()).collect()
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
                take: script(TAKE),
                put_back: script(PUT_BACK),
            }),
        }
    }

    fn key(owner: &CartOwner) -> String {
        format!("cart:{}", owner.key())
    }

    async fn eval(&self, script: &Script, key: String, args: Vec<String>) -> Result<Vec<Value>, StoreError> {
        let client = self.redis.pool.next();
        Ok(self.redis.call(script.evalsha_with_reload::<Vec<Value>, _, _>(client, key, args)).await?)
    }
}

#[async_trait]
impl CartStore for RedisCartStore {
    async fn load(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        let client = self.redis.pool.next();
        let pairs: Vec<(String, String)> = self
            .redis
            .call(client.hgetall(Self::key(owner)))
            .await
            .map(|m: std::collections::HashMap<String, String>| m.into_iter().collect())?;
        let flat: Vec<String> = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
        parse_hash(&flat)
    }

    async fn change(&self, owner: &CartOwner, change: LineChange) -> Result<Change, StoreError> {
        let LineChange { product_id, mode, quantity, cap, price_cents, max_lines } = change;
        let args = vec![
            product_id.to_string(),
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
        let out = strings(self.eval(&self.scripts.change, Self::key(owner), args).await?);
        if out.len() < 3 {
            return Err(StoreError::Backend("short reply from cart script".into()));
        }
        if out[0] == "full" {
            return Err(StoreError::CartFull);
        }
        let cart = parse_hash(&out[3..])?;
        Ok(Change { cart, quantity: out[1].parse().unwrap_or(0), capped: out[2] == "1" })
    }

    async fn remove(&self, owner: &CartOwner, product_id: i64) -> Result<StoredCart, StoreError> {
        let out = self
            .eval(&self.scripts.remove, Self::key(owner), vec![product_id.to_string(), self.ttl_secs.to_string()])
            .await?;
        parse_hash(&strings(out))
    }

    async fn clear(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        let out = self.eval(&self.scripts.clear, Self::key(owner), vec![self.ttl_secs.to_string()]).await?;
        parse_hash(&strings(out))
    }

    async fn restore_if_pristine(
        &self,
        owner: &CartOwner,
        lines: &[StoredLine],
    ) -> Result<Option<StoredCart>, StoreError> {
        let mut args = vec![self.ttl_secs.to_string()];
        for (i, l) in lines.iter().enumerate() {
            args.push(l.product_id.to_string());
            args.push(format!("{}|{}|{}", l.quantity.min(MAX_QUANTITY), l.price_cents, i));
        }
        let out = strings(self.eval(&self.scripts.restore, Self::key(owner), args).await?);
        if out.first().map(String::as_str) != Some("ok") {
            return Ok(None);
        }
        parse_hash(&out[1..]).map(Some)
    }

    async fn take(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        let out = self.eval(&self.scripts.take, Self::key(owner), vec![self.ttl_secs.to_string()]).await?;
        parse_hash(&strings(out))
    }

    async fn put_back(&self, owner: &CartOwner, lines: &[StoredLine]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut args = vec![self.ttl_secs.to_string(), MAX_QUANTITY.to_string()];
        for l in lines {
            args.extend([l.product_id.to_string(), l.quantity.to_string(), l.price_cents.to_string()]);
        }
        let client = self.redis.pool.next();
        self.redis
            .call(self.scripts.put_back.evalsha_with_reload::<String, _, _>(client, Self::key(owner), args))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_replies_become_ordered_carts() {
        let pairs: Vec<String> = ["_v", "5", "12", "2|999|3", "7", "1|150|1"].iter().map(|s| s.to_string()).collect();
        let cart = parse_hash(&pairs).unwrap();
        assert_eq!(cart.version, 5);
        assert_eq!(cart.lines[0], StoredLine { product_id: 7, quantity: 1, price_cents: 150 });
        assert_eq!(cart.lines[1], StoredLine { product_id: 12, quantity: 2, price_cents: 999 });
        assert!(parse_hash(&["x".to_string(), "1|1|1".to_string()]).is_err());
    }
}
