//! Exchange status and schedule, account rate limits and endpoint costs.

use serde::{Deserialize, Serialize};

use super::common::Timestamp;
use super::common::serde_util::opt_timestamp;

/// `ExchangeStatus` (`GET /exchange/status`; also the body of its 500/503/504 answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeStatus {
    pub exchange_active: bool,
    pub trading_active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intra_exchange_transfers_active: Option<bool>,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub exchange_estimated_resume_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index_statuses: Option<Vec<ExchangeIndexStatus>>,
}

/// Status of one exchange shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeIndexStatus {
    pub exchange_index: i32,
    pub exchange_active: bool,
    pub trading_active: bool,
    pub intra_exchange_transfers_active: bool,
    /// 3.34.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `GET /exchange/schedule` → `{schedule}` (times are US Eastern).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetExchangeScheduleResponse {
    pub schedule: Schedule,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub standard_hours: Vec<WeeklySchedule>,
    pub maintenance_windows: Vec<MaintenanceWindow>,
}

/// Trading hours per weekday, valid from `start_time` to `end_time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklySchedule {
    pub start_time: Timestamp,
    pub end_time: Timestamp,
    pub monday: Vec<DailySchedule>,
    pub tuesday: Vec<DailySchedule>,
    pub wednesday: Vec<DailySchedule>,
    pub thursday: Vec<DailySchedule>,
    pub friday: Vec<DailySchedule>,
    pub saturday: Vec<DailySchedule>,
    pub sunday: Vec<DailySchedule>,
}

/// `{open_time: "HH:MM", close_time: "HH:MM"}` (ET).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailySchedule {
    pub open_time: String,
    pub close_time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub start_datetime: Timestamp,
    pub end_datetime: Timestamp,
}

/// A token bucket: refill per second and capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketLimit {
    pub refill_rate: i64,
    pub bucket_capacity: i64,
}

/// A usage-level grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsageLevelGrant {
    /// `event_contract|margined`.
    pub exchange_instance: String,
    pub level: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ts: Option<i64>,
    pub source: String,
}

/// `GET /account/limits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAccountApiLimitsResponse {
    pub usage_tier: String,
    pub read: BucketLimit,
    pub write: BucketLimit,
    pub grants: Vec<ApiUsageLevelGrant>,
}

/// A non-default endpoint cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointTokenCost {
    pub method: String,
    pub path: String,
    pub cost: i64,
}

/// `GET /account/endpoint_costs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAccountEndpointCostsResponse {
    pub default_cost: i64,
    pub endpoint_costs: Vec<EndpointTokenCost>,
}
