//! Portfolio reads: balance, positions, fills, settlements, resting order value.

use super::RestClient;
use super::endpoint::Endpoint;
use super::error::RestError;
use super::pages::collect_pages;
use super::transport::Call;
use crate::kalshi::wire::{
    EventPosition, Fill, GetBalanceParams, GetBalanceResponse, GetFillsParams, GetFillsResponse,
    GetPortfolioRestingOrderTotalValueResponse, GetPositionsParams, GetPositionsResponse,
    GetSettlementsResponse, MarketPosition, Settlement,
};

impl RestClient {
    pub async fn balance(
        &self,
        params: &GetBalanceParams,
    ) -> Result<GetBalanceResponse, RestError> {
        self.call_json(Call::new(Endpoint::Balance).query(params)?)
            .await
    }

    /// One page of unsettled positions.
    pub async fn positions(
        &self,
        params: &GetPositionsParams,
    ) -> Result<GetPositionsResponse, RestError> {
        self.call_json(Call::new(Endpoint::Positions).query(params)?)
            .await
    }

    /// Every page of positions: (market positions, event positions).
    pub async fn all_positions(
        &self,
        params: &GetPositionsParams,
    ) -> Result<(Vec<MarketPosition>, Vec<EventPosition>), RestError> {
        let pages = collect_pages("positions", |cursor| {
            let page = GetPositionsParams {
                cursor,
                ..params.clone()
            };
            async move {
                let answer = self.positions(&page).await?;
                Ok((
                    vec![(answer.market_positions, answer.event_positions)],
                    answer.cursor,
                ))
            }
        })
        .await?;
        let mut markets = Vec::new();
        let mut events = Vec::new();
        for (market_page, event_page) in pages {
            markets.extend(market_page);
            events.extend(event_page);
        }
        Ok((markets, events))
    }

    /// One page of fills.
    pub async fn fills(&self, params: &GetFillsParams) -> Result<GetFillsResponse, RestError> {
        self.call_json(Call::new(Endpoint::Fills).query(params)?)
            .await
    }

    pub async fn all_fills(&self, params: &GetFillsParams) -> Result<Vec<Fill>, RestError> {
        collect_pages("fills", |cursor| {
            let page = GetFillsParams {
                cursor,
                ..params.clone()
            };
            async move {
                let answer = self.fills(&page).await?;
                Ok((answer.fills, answer.cursor))
            }
        })
        .await
    }

    /// One page of settlements (`order_id` in `params` does not apply).
    pub async fn settlements(
        &self,
        params: &GetFillsParams,
    ) -> Result<GetSettlementsResponse, RestError> {
        self.call_json(Call::new(Endpoint::Settlements).query(params)?)
            .await
    }

    pub async fn all_settlements(
        &self,
        params: &GetFillsParams,
    ) -> Result<Vec<Settlement>, RestError> {
        collect_pages("settlements", |cursor| {
            let page = GetFillsParams {
                cursor,
                ..params.clone()
            };
            async move {
                let answer = self.settlements(&page).await?;
                Ok((answer.settlements, answer.cursor))
            }
        })
        .await
    }

    /// Total value of resting orders, in cents.
    pub async fn total_resting_order_value(
        &self,
    ) -> Result<GetPortfolioRestingOrderTotalValueResponse, RestError> {
        self.call_json(Call::new(Endpoint::TotalRestingOrderValue))
            .await
    }
}
