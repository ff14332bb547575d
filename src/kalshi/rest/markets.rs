//! Public market data: exchange status and schedule, markets, events, series, order books,
//! trades.

use super::RestClient;
use super::endpoint::Endpoint;
use super::error::RestError;
use super::pages::collect_pages;
use super::transport::{Call, decode_answer};
use crate::core::market::Ticker;
use crate::kalshi::wire::{
    EventData, ExchangeStatus, GetEventParams, GetEventResponse, GetEventsParams,
    GetEventsResponse, GetExchangeScheduleResponse, GetMarketOrderbookResponse,
    GetMarketOrderbooksParams, GetMarketOrderbooksResponse, GetMarketResponse, GetMarketsParams,
    GetMarketsResponse, GetOrderbookParams, GetSeriesListResponse, GetSeriesParams,
    GetSeriesResponse, GetTradesParams, GetTradesResponse, GetUserDataTimestampResponse, Market,
    Series, Trade,
};

/// Most tickers `GET /markets/orderbooks` takes in one request.
pub const MAX_ORDERBOOK_TICKERS: usize = 100;

impl RestClient {
    /// Exchange and trading activity. During maintenance Kalshi answers 503/504 with the same
    /// body; that body is returned (with `exchange_active: false`), not an error.
    pub async fn exchange_status(&self) -> Result<ExchangeStatus, RestError> {
        let call = Call::new(Endpoint::ExchangeStatus).keep_server_error_body();
        let answer = self.execute(&call).await?;
        if (200..300).contains(&answer.status) {
            return decode_answer(&call, &answer.body);
        }
        match serde_json::from_slice(&answer.body) {
            Ok(status) => Ok(status),
            // Not a status body (a proxy's page, an error envelope): an ordinary retried read.
            Err(_) => self.call_json(Call::new(Endpoint::ExchangeStatus)).await,
        }
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
            .query(&GetOrderbookParams { depth })?;
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
            let params = GetMarketOrderbooksParams {
                tickers: chunk.iter().map(|t| t.as_str().to_string()).collect(),
            };
            let mut call = Call::new(Endpoint::Orderbooks);
            for (key, value) in params.to_query_pairs() {
                call = call.query_pair(key, value);
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
            .query(&GetEventParams {
                with_nested_markets: Some(with_nested_markets),
            })?;
        self.call_json(call).await
    }

    pub async fn series_list(
        &self,
        params: &GetSeriesParams,
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
