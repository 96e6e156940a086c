//! Flags, exposures and conversions in SQL.

use super::db::{now_ms, Db};
use crate::domain::experiments::{Flag, Step, VariantCounts};
use sqlx::Row;

#[derive(Clone, Debug)]
pub struct ExperimentStore {
    db: Db,
}

impl ExperimentStore {
    pub fn new(db: Db) -> Self {
        ExperimentStore { db }
    }

    pub async fn flags(&self) -> Result<Vec<Flag>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT name, enabled, variants FROM flags ORDER BY name").fetch_all(self.db.read()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.try_get("name")?;
            let spec: String = row.try_get("variants")?;
            // A row edited by hand into something invalid is skipped, not fatal.
            match Flag::parse_variants(&spec) {
                Ok(variants) => out.push(Flag { name, enabled: row.try_get::<i64, _>("enabled")? != 0, variants }),
                Err(e) => tracing::warn!(flag = %name, error = %e, "ignoring a flag with invalid variants"),
            }
        }
        Ok(out)
    }

    /// Changes an existing flag; false when there is no such flag.
    pub async fn update(&self, flag: &Flag) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE flags SET enabled = $1, variants = $2, updated_at = $3 WHERE name = $4")
            .bind(i64::from(flag.enabled))
            .bind(flag.variants_spec())
            .bind(now_ms())
            .bind(&flag.name)
            .execute(&mut *self.db.write().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn assigned(&self, flag: &str, subject: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT variant FROM exposures WHERE flag = $1 AND subject = $2")
            .bind(flag)
            .bind(subject)
            .fetch_optional(self.db.read())
            .await
    }

    /// Records the first exposure; returns the variant on record (an earlier one wins).
    pub async fn expose(&self, flag: &str, subject: &str, variant: &str) -> Result<String, sqlx::Error> {
        sqlx::query(
            "INSERT INTO exposures (flag, subject, variant, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (flag, subject) DO NOTHING",
        )
        .bind(flag)
        .bind(subject)
        .bind(variant)
        .bind(now_ms())
        .execute(&mut *self.db.write().await?)
        .await?;
        Ok(self.assigned(flag, subject).await?.unwrap_or_else(|| variant.to_string()))
    }

    /// Records that an exposed subject reached `step` (once per step; unexposed subjects are not
    /// in the experiment and are ignored).
    pub async fn convert(&self, flag: &str, subject: &str, step: Step) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO conversions (flag, subject, step, created_at) \
             SELECT flag, subject, $3, $4 FROM exposures WHERE flag = $1 AND subject = $2 \
             ON CONFLICT (flag, subject, step) DO NOTHING",
        )
        .bind(flag)
        .bind(subject)
        .bind(step.as_str())
        .bind(now_ms())
        .execute(&mut *self.db.write().await?)
        .await?;
        Ok(())
    }

    /// A guest signed in: their exposures and conversions become the account's, for every flag
    /// the account has no exposure to yet (the account's own earlier assignment wins).
    pub async fn relabel(&self, from: &str, to: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE conversions SET subject = $2 WHERE subject = $1 AND NOT EXISTS \
             (SELECT 1 FROM exposures e WHERE e.flag = conversions.flag AND e.subject = $2)",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE exposures SET subject = $2 WHERE subject = $1 AND NOT EXISTS \
             (SELECT 1 FROM exposures e WHERE e.flag = exposures.flag AND e.subject = $2)",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Subjects and conversions per variant, attributed to the variant of first exposure.
    pub async fn counts(&self, flag: &str) -> Result<Vec<VariantCounts>, sqlx::Error> {
        let subjects = sqlx::query(
            "SELECT variant, COUNT(*) AS n FROM exposures WHERE flag = $1 GROUP BY variant ORDER BY variant",
        )
        .bind(flag)
        .fetch_all(self.db.read())
        .await?;
        let steps = sqlx::query(
            "SELECT e.variant AS variant, c.step AS step, COUNT(*) AS n FROM conversions c \
             JOIN exposures e ON e.flag = c.flag AND e.subject = c.subject \
             WHERE c.flag = $1 GROUP BY e.variant, c.step",
        )
        .bind(flag)
        .fetch_all(self.db.read())
        .await?;
        let mut out: Vec<VariantCounts> = Vec::new();
        for row in subjects {
            let variant: String = row.try_get("variant")?;
            let n: i64 = row.try_get("n")?;
            out.push(VariantCounts {
                variant,
                subjects: n.max(0) as u64,
                steps: Step::ALL.iter().map(|s| (*s, 0)).collect(),
            });
        }
        for row in steps {
            let variant: String = row.try_get("variant")?;
            let step: String = row.try_get("step")?;
            let n: i64 = row.try_get("n")?;
            if let (Some(v), Some(step)) = (out.iter_mut().find(|v| v.variant == variant), Step::parse(&step)) {
                if let Some(slot) = v.steps.iter_mut().find(|(s, _)| *s == step) {
                    slot.1 = n.max(0) as u64;
                }
            }
        }
        Ok(out)
    }
}
