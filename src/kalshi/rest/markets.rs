//! Public market data: exchange status and schedule, markets, events, series, order books,
//! trades.

use super::RestClient;
use super::endpoint::Endpoint;
use super::error::RestError;
use super::pages::collect_pages;
use super::transport::Call;
use crate::core::market::Ticker;
use crate::kalshi::wire::{
    EventData, ExchangeStatus, GetEventResponse, GetEventsParams, GetEventsResponse,
    GetExchangeScheduleResponse, GetMarketOrderbookResponse, GetMarketOrderbooksResponse,
    GetMarketResponse, GetMarketsParams, GetMarketsResponse, GetSeriesListResponse,
    GetSeriesResponse, GetTradesParams, GetTradesResponse, GetUserDataTimestampResponse, Market,
    Series, Trade,
};

/// Most tickers `GET /markets/orderbooks` takes in one request.
pub const MAX_ORDERBOOK_TICKERS: usize = 100;

/// Query of `GET /series`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SeriesListParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_product_metadata: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_volume: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_updated_ts: Option<i64>,
}

#[derive(serde::Serialize)]
struct DepthQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    depth: Option<u32>,
}

#[derive(serde::Serialize)]
struct NestedQuery {
    with_nested_markets: bool,
}

impl RestClient {
    pub async fn exchange_status(&self) -> Result<ExchangeStatus, RestError> {
        self.call_json(Call::new(Endpoint::ExchangeStatus)).await
    }

    pub async fn exchange_schedule(&self) -> Result<GetExchangeScheduleResponse, RestError> {
        self.call_json(Call::new(Endpoint::ExchangeSchedule)).await
    }

    /// How fresh the exchange's portfolio data is (`{as_of_time}`).
    pub async fn user_data_timestamp(&self) -> Result<GetUserDataTimestampResponse, RestError> {
        self.call_json(Call::new(Endpoint::UserDataTimestamp)).await
    }

    /// One page of `GET /markets`.
    pub async fn markets(
        &self,
        params: &GetMarketsParams,
    ) -> Result<GetMarketsResponse, RestError> {
        self.call_json(Call::new(Endpoint::Markets).query(params)?)
            .await
    }

    /// Every page of `GET /markets` (the `cursor` in `params` is ignored).
    pub async fn all_markets(&self, params: &GetMarketsParams) -> Result<Vec<Market>, RestError> {
        collect_pages("markets", |cursor| {
            let page = GetMarketsParams {
                cursor,
                ..params.clone()
            };
            async move {
                let answer = self.markets(&page).await?;
                Ok((answer.markets, answer.cursor))
            }
        })
        .await
    }

    pub async fn market(&self, ticker: &str) -> Result<Market, RestError> {
        let answer: GetMarketResponse = self
            .call_json(Call::new(Endpoint::Market).param(ticker))
            .await?;
        Ok(answer.market)
    }

    /// `depth` 0 or `None` = every level.
    pub async fn orderbook(
        &self,
        ticker: &str,
        depth: Option<u32>,
    ) -> Result<GetMarketOrderbookResponse, RestError> {
        let call = Call::new(Endpoint::Orderbook)
            .param(ticker)
            .query(&DepthQuery { depth })?;
        self.call_json(call).await
    }

    /// Books of many markets (`?tickers=A&tickers=B`), in requests of at most
    /// [`MAX_ORDERBOOK_TICKERS`].
    pub async fn orderbooks(
        &self,
        tickers: &[Ticker],
    ) -> Result<GetMarketOrderbooksResponse, RestError> {
        let mut merged = GetMarketOrderbooksResponse {
            orderbooks: Vec::with_capacity(tickers.len()),
        };
        for chunk in tickers.chunks(MAX_ORDERBOOK_TICKERS) {
            let mut call = Call::new(Endpoint::Orderbooks);
            for ticker in chunk {
                call = call.query_pair("tickers", ticker.as_str());
            }
            let answer: GetMarketOrderbooksResponse = self.call_json(call).await?;
            merged.orderbooks.extend(answer.orderbooks);
        }
        Ok(merged)
    }

    /// One page of public trades.
    pub async fn trades(&self, params: &GetTradesParams) -> Result<GetTradesResponse, RestError> {
        self.call_json(Call::new(Endpoint::Trades).query(params)?)
            .await
    }

    pub async fn all_trades(&self, params: &GetTradesParams) -> Result<Vec<Trade>, RestError> {
        collect_pages("trades", |cursor| {
            let page = GetTradesParams {
                cursor,
                ..params.clone()
            };
            async move {
                let answer = self.trades(&page).await?;
                Ok((answer.trades, answer.cursor))
            }
        })
        .await
    }

    /// One page of `GET /events`.
    pub async fn events(&self, params: &GetEventsParams) -> Result<GetEventsResponse, RestError> {
        self.call_json(Call::new(Endpoint::Events).query(params)?)
            .await
    }

    pub async fn all_events(&self, params: &GetEventsParams) -> Result<Vec<EventData>, RestError> {
        collect_pages("events", |cursor| {
            let page = GetEventsParams {
                cursor,
                ..params.clone()
            };
            async move {
                let answer = self.events(&page).await?;
                Ok((answer.events, answer.cursor))
            }
        })
        .await
    }

    pub async fn event(
        &self,
        event_ticker: &str,
        with_nested_markets: bool,
    ) -> Result<GetEventResponse, RestError> {
        let call = Call::new(Endpoint::Event)
            .param(event_ticker)
            .query(&NestedQuery {
                with_nested_markets,
            })?;
        self.call_json(call).await
    }

    pub async fn series_list(
        &self,
        params: &SeriesListParams,
    ) -> Result<GetSeriesListResponse, RestError> {
        self.call_json(Call::new(Endpoint::SeriesList).query(params)?)
            .await
    }

    pub async fn series(&self, series_ticker: &str) -> Result<Series, RestError> {
        let answer: GetSeriesResponse = self
            .call_json(Call::new(Endpoint::Series).param(series_ticker))
            .await?;
        Ok(answer.series)
    }
}
