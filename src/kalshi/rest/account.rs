//! Account rate limits and endpoint costs, and feeding them to the rate limiter.

use super::RestClient;
use super::endpoint::Endpoint;
use super::error::RestError;
use super::transport::Call;
use crate::kalshi::ratelimit::{BucketLimit, CostTable};
use crate::kalshi::wire::{GetAccountApiLimitsResponse, GetAccountEndpointCostsResponse};

impl RestClient {
    pub async fn account_limits(&self) -> Result<GetAccountApiLimitsResponse, RestError> {
        self.call_json(Call::new(Endpoint::AccountLimits)).await
    }

    pub async fn endpoint_costs(&self) -> Result<GetAccountEndpointCostsResponse, RestError> {
        self.call_json(Call::new(Endpoint::EndpointCosts)).await
    }

    /// Ask the exchange for this key's buckets and the endpoint costs and give them to the
    /// limiter, replacing DIGEST's defaults.
    pub async fn refresh_rate_limits(&self) -> Result<(), RestError> {
        let costs = cost_table(&self.endpoint_costs().await?)?;
        let limits = self.account_limits().await?;
        let read = bucket_limit("read", limits.read.refill_rate, limits.read.bucket_capacity)?;
        let write = bucket_limit(
            "write",
            limits.write.refill_rate,
            limits.write.bucket_capacity,
        )?;
        self.limiter().set_costs(costs);
        self.limiter().set_limits(read, write);
        Ok(())
    }
}

fn to_tokens(what: &str, value: i64) -> Result<u32, RestError> {
    u32::try_from(value).map_err(|_| RestError::Decode {
        what: what.to_string(),
        error: format!("{value} is not a token count"),
    })
}

fn bucket_limit(name: &str, refill_rate: i64, capacity: i64) -> Result<BucketLimit, RestError> {
    Ok(BucketLimit::new(
        to_tokens(&format!("account_limits {name}.refill_rate"), refill_rate)?,
        to_tokens(&format!("account_limits {name}.bucket_capacity"), capacity)?,
    ))
}

/// The exchange's cost list as a [`CostTable`]: its default for every endpoint it omits.
pub fn cost_table(costs: &GetAccountEndpointCostsResponse) -> Result<CostTable, RestError> {
    let mut table = CostTable::new(to_tokens(
        "endpoint_costs default_cost",
        costs.default_cost,
    )?);
    for entry in &costs.endpoint_costs {
        let cost = to_tokens(
            &format!("endpoint_costs {} {}", entry.method, entry.path),
            entry.cost,
        )?;
        table.set(&entry.method, &entry.path, cost);
    }
    Ok(table)
}
