//! The endpoints the desk calls: method, route, rate-limit bucket and retry policy of each.

use crate::kalshi::ratelimit::{BucketKind, Route};

/// How a call spends budget and whether it may be sent twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Read bucket; waits for budget; retried with backoff.
    Read,
    /// Write bucket through the cancel lane (may spend the reserve); waits; retried, because
    /// cancelling twice is harmless.
    Cancel,
    /// New orders and amends: fail fast when the budget is short; never re-sent.
    Order,
    /// Other writes that are not idempotent (creating an order group): wait for budget, keep
    /// the cancel reserve, never re-sent.
    Write,
}

impl Lane {
    /// Whether a lost answer may be followed by sending the same request again.
    pub fn may_resend(self) -> bool {
        matches!(self, Lane::Read | Lane::Cancel)
    }
}

macro_rules! endpoints {
    ($($variant:ident => $name:literal, $method:literal, $template:literal, $lane:ident;)*) => {
        /// Every REST endpoint the client calls.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Endpoint {
            $($variant,)*
        }

        impl Endpoint {
            pub const ALL: &'static [Endpoint] = &[$(Endpoint::$variant,)*];

            /// A short stable name for logs and the health panel.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Endpoint::$variant => $name,)*
                }
            }

            pub const fn method(self) -> &'static str {
                match self {
                    $(Endpoint::$variant => $method,)*
                }
            }

            /// Path template under `/trade-api/v2`, parameters in braces.
            pub const fn template(self) -> &'static str {
                match self {
                    $(Endpoint::$variant => $template,)*
                }
            }

            pub const fn lane(self) -> Lane {
                match self {
                    $(Endpoint::$variant => Lane::$lane,)*
                }
            }
        }
    };
}

endpoints! {
    ExchangeStatus => "exchange_status", "GET", "/exchange/status", Read;
    ExchangeSchedule => "exchange_schedule", "GET", "/exchange/schedule", Read;
    UserDataTimestamp => "user_data_timestamp", "GET", "/exchange/user_data_timestamp", Read;
    Markets => "markets", "GET", "/markets", Read;
    Market => "market", "GET", "/markets/{ticker}", Read;
    Orderbook => "orderbook", "GET", "/markets/{ticker}/orderbook", Read;
    Orderbooks => "orderbooks", "GET", "/markets/orderbooks", Read;
    Trades => "trades", "GET", "/markets/trades", Read;
    Events => "events", "GET", "/events", Read;
    Event => "event", "GET", "/events/{event_ticker}", Read;
    SeriesList => "series_list", "GET", "/series", Read;
    Series => "series", "GET", "/series/{series_ticker}", Read;
    Balance => "balance", "GET", "/portfolio/balance", Read;
    Positions => "positions", "GET", "/portfolio/positions", Read;
    Fills => "fills", "GET", "/portfolio/fills", Read;
    Settlements => "settlements", "GET", "/portfolio/settlements", Read;
    TotalRestingOrderValue => "total_resting_order_value", "GET", "/portfolio/summary/total_resting_order_value", Read;
    Orders => "orders", "GET", "/portfolio/orders", Read;
    Order => "order", "GET", "/portfolio/orders/{order_id}", Read;
    QueuePositions => "queue_positions", "GET", "/portfolio/orders/queue_positions", Read;
    QueuePosition => "queue_position", "GET", "/portfolio/orders/{order_id}/queue_position", Read;
    CreateOrder => "create_order", "POST", "/portfolio/events/orders", Order;
    BatchCreateOrders => "batch_create_orders", "POST", "/portfolio/events/orders/batched", Order;
    CancelOrder => "cancel_order", "DELETE", "/portfolio/events/orders/{order_id}", Cancel;
    BatchCancelOrders => "batch_cancel_orders", "DELETE", "/portfolio/events/orders/batched", Cancel;
    CancelAllOrders => "cancel_all_orders", "DELETE", "/portfolio/events/orders", Cancel;
    AmendOrder => "amend_order", "POST", "/portfolio/events/orders/{order_id}/amend", Order;
    DecreaseOrder => "decrease_order", "POST", "/portfolio/events/orders/{order_id}/decrease", Cancel;
    OrderGroups => "order_groups", "GET", "/portfolio/order_groups", Read;
    OrderGroup => "order_group", "GET", "/portfolio/order_groups/{order_group_id}", Read;
    CreateOrderGroup => "create_order_group", "POST", "/portfolio/order_groups/create", Write;
    DeleteOrderGroup => "delete_order_group", "DELETE", "/portfolio/order_groups/{order_group_id}", Cancel;
    ResetOrderGroup => "reset_order_group", "PUT", "/portfolio/order_groups/{order_group_id}/reset", Cancel;
    TriggerOrderGroup => "trigger_order_group", "PUT", "/portfolio/order_groups/{order_group_id}/trigger", Cancel;
    UpdateOrderGroupLimit => "update_order_group_limit", "PUT", "/portfolio/order_groups/{order_group_id}/limit", Cancel;
    AccountLimits => "account_limits", "GET", "/account/limits", Read;
    EndpointCosts => "endpoint_costs", "GET", "/account/endpoint_costs", Read;
}

impl Endpoint {
    pub const fn bucket(self) -> BucketKind {
        match self.lane() {
            Lane::Read => BucketKind::Read,
            Lane::Cancel | Lane::Order | Lane::Write => BucketKind::Write,
        }
    }

    /// The endpoint as the rate limiter sees it.
    pub const fn route(self) -> Route {
        Route::new(self.method(), self.template(), self.bucket())
    }

    /// Position in [`Endpoint::ALL`], for per-endpoint tables.
    pub fn index(self) -> usize {
        Endpoint::ALL
            .iter()
            .position(|e| *e == self)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_index_round_trips() {
        let mut names: Vec<_> = Endpoint::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Endpoint::ALL.len());
        for (i, endpoint) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(endpoint.index(), i);
        }
    }

    #[test]
    fn only_reads_and_cancels_are_ever_resent() {
        assert!(!Endpoint::CreateOrder.lane().may_resend());
        assert!(!Endpoint::BatchCreateOrders.lane().may_resend());
        assert!(!Endpoint::AmendOrder.lane().may_resend());
        assert!(!Endpoint::CreateOrderGroup.lane().may_resend());
        assert!(Endpoint::CancelOrder.lane().may_resend());
        assert!(Endpoint::Markets.lane().may_resend());
        assert_eq!(Endpoint::CancelAllOrders.bucket(), BucketKind::Write);
        assert_eq!(Endpoint::Order.bucket(), BucketKind::Read);
    }
}
