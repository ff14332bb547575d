//! Orders: reads on `/portfolio/orders`, V2 writes on `/portfolio/events/orders`, batches split
//! to fit the rate budget, and order groups.

use super::RestClient;
use super::endpoint::Endpoint;
use super::error::RestError;
use super::pages::collect_pages;
use super::transport::{Answer, Call};
use crate::kalshi::ratelimit::split_batch;
use crate::kalshi::wire::{
    AmendOrderV2Request, AmendOrderV2Response, BatchCancelOrderV2, BatchCancelOrderV2Result,
    BatchCancelOrdersV2Request, BatchCancelOrdersV2Response, BatchCreateOrderV2Result,
    BatchCreateOrdersV2Request, BatchCreateOrdersV2Response, CancelAllOrdersParams,
    CancelOrderV2Params, CancelOrderV2Response, CreateOrderGroupRequest, CreateOrderGroupResponse,
    CreateOrderV2Request, CreateOrderV2Response, DecreaseOrderV2Request, DecreaseOrderV2Response,
    ErrorResponse, GetOrderGroupResponse, GetOrderGroupsResponse, GetOrderQueuePositionResponse,
    GetOrderQueuePositionsParams, GetOrderQueuePositionsResponse, GetOrderResponse,
    GetOrdersParams, GetOrdersResponse, Order, OrderGroupWriteParams, SubaccountParams,
    UpdateOrderGroupLimitRequest,
};
use std::collections::VecDeque;

/// A fresh idempotency key, so a lost create can always be looked up.
pub fn new_client_order_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn ensure_client_order_id(order: &mut CreateOrderV2Request) -> String {
    order
        .client_order_id
        .get_or_insert_with(new_client_order_id)
        .clone()
}

fn item_error(endpoint: Endpoint, status: u16, error: ErrorResponse) -> RestError {
    RestError::Api {
        endpoint: endpoint.name(),
        status,
        code: error.code.unwrap_or_default(),
        message: error.message.unwrap_or_default(),
        details: error.details,
    }
}

impl RestClient {
    /// One page of orders.
    pub async fn orders(&self, params: &GetOrdersParams) -> Result<GetOrdersResponse, RestError> {
        self.call_json(Call::new(Endpoint::Orders).query(params)?)
            .await
    }

    pub async fn all_orders(&self, params: &GetOrdersParams) -> Result<Vec<Order>, RestError> {
        collect_pages("orders", |cursor| {
            let page = GetOrdersParams {
                cursor,
                ..params.clone()
            };
            async move {
                let answer = self.orders(&page).await?;
                Ok((answer.orders, answer.cursor))
            }
        })
        .await
    }

    pub async fn order(&self, order_id: &str) -> Result<Order, RestError> {
        let answer: GetOrderResponse = self
            .call_json(Call::new(Endpoint::Order).param(order_id))
            .await?;
        Ok(answer.order)
    }

    pub async fn queue_positions(
        &self,
        params: &GetOrderQueuePositionsParams,
    ) -> Result<GetOrderQueuePositionsResponse, RestError> {
        self.call_json(Call::new(Endpoint::QueuePositions).query(params)?)
            .await
    }

    pub async fn queue_position(
        &self,
        order_id: &str,
    ) -> Result<GetOrderQueuePositionResponse, RestError> {
        self.call_json(Call::new(Endpoint::QueuePosition).param(order_id))
            .await
    }

    /// Place one order. Fails fast with `WouldExceed` when the write budget is short. A lost
    /// answer is `Unknown` with the order's `client_order_id` (one is generated if missing);
    /// the order is never sent twice.
    pub async fn create_order(
        &self,
        mut order: CreateOrderV2Request,
    ) -> Result<CreateOrderV2Response, RestError> {
        let client_order_id = ensure_client_order_id(&mut order);
        let flatten = order.reduce_only == Some(true)
            && order.time_in_force == crate::kalshi::wire::TimeInForce::ImmediateOrCancel;
        let mut call = Call::new(Endpoint::CreateOrder)
            .json(&order)?
            .client_order_id(Some(client_order_id));
        if flatten {
            call = call.passes_closed_gate();
        }
        self.call_json(call).await
    }

    /// Place many orders. The batch is split so each request fits the write budget at once
    /// (Kalshi rejects a whole batch that does not); what the budget cannot cover now fails
    /// with `WouldExceed`, and nothing more is sent after a part whose outcome is unknown.
    /// One result per order, in order.
    pub async fn batch_create_orders(
        &self,
        orders: Vec<CreateOrderV2Request>,
    ) -> Vec<Result<BatchCreateOrderV2Result, RestError>> {
        let endpoint = Endpoint::BatchCreateOrders;
        let route = endpoint.route();
        let max_items = self.limiter().max_batch_items(route, false);
        let mut waiting: VecDeque<CreateOrderV2Request> = orders
            .into_iter()
            .map(|mut order| {
                ensure_client_order_id(&mut order);
                order
            })
            .collect();
        let mut results = Vec::with_capacity(waiting.len());
        while !waiting.is_empty() {
            let wanted = u32::try_from(waiting.len().min(max_items)).unwrap_or(u32::MAX);
            let granted = match self.limiter().try_acquire_up_to(route, wanted) {
                Ok(granted) => granted as usize,
                Err(short) => {
                    let error = RestError::from(short);
                    results.extend(waiting.drain(..).map(|_| Err(error.clone())));
                    break;
                }
            };
            let chunk: Vec<_> = waiting.drain(..granted.min(waiting.len())).collect();
            let chunk_results = self.send_create_chunk(chunk).await;
            let unknown = chunk_results
                .iter()
                .any(|result| matches!(result, Err(RestError::Unknown { .. })));
            results.extend(chunk_results);
            if unknown {
                let reason = "an earlier part of the batch has an unknown outcome".to_string();
                results.extend(waiting.drain(..).map(|_| {
                    Err(RestError::NotSent {
                        endpoint: endpoint.name(),
                        reason: reason.clone(),
                    })
                }));
            }
        }
        results
    }

    async fn send_create_chunk(
        &self,
        chunk: Vec<CreateOrderV2Request>,
    ) -> Vec<Result<BatchCreateOrderV2Result, RestError>> {
        let endpoint = Endpoint::BatchCreateOrders;
        let client_ids: Vec<Option<String>> =
            chunk.iter().map(|o| o.client_order_id.clone()).collect();
        let items = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        let body = BatchCreateOrdersV2Request { orders: chunk };
        let call = match Call::new(endpoint).json(&body) {
            Ok(call) => call.items(items).prepaid(),
            Err(error) => return client_ids.iter().map(|_| Err(error.clone())).collect(),
        };
        let unknown_each = |cause: &str| -> Vec<Result<BatchCreateOrderV2Result, RestError>> {
            client_ids
                .iter()
                .map(|client_order_id| {
                    Err(RestError::Unknown {
                        endpoint: endpoint.name(),
                        client_order_id: client_order_id.clone(),
                        order_id: None,
                        cause: cause.to_string(),
                    })
                })
                .collect()
        };
        let answer: Answer = match self.execute(&call).await {
            Ok(answer) => answer,
            Err(RestError::Unknown { cause, .. }) => return unknown_each(&cause),
            Err(error) => return client_ids.iter().map(|_| Err(error.clone())).collect(),
        };
        let decoded: BatchCreateOrdersV2Response = match serde_json::from_slice(&answer.body) {
            Ok(decoded) => decoded,
            Err(error) => return unknown_each(&format!("answer unreadable: {error}")),
        };
        let mut by_position = decoded.orders;
        if by_position.len() != client_ids.len() {
            // Match by client_order_id when the exchange did not answer item for item.
            return client_ids
                .iter()
                .map(|client_order_id| {
                    let found = by_position.iter().position(|r| {
                        r.client_order_id.is_some() && r.client_order_id == *client_order_id
                    });
                    match found {
                        Some(index) => create_item(answer.status, by_position.swap_remove(index)),
                        None => Err(RestError::Unknown {
                            endpoint: endpoint.name(),
                            client_order_id: client_order_id.clone(),
                            order_id: None,
                            cause: "missing from the batch answer".to_string(),
                        }),
                    }
                })
                .collect();
        }
        by_position
            .into_iter()
            .map(|result| create_item(answer.status, result))
            .collect()
    }

    /// Cancel one order. Waits in the cancel lane (which may spend the reserve) and is
    /// retried on a lost answer.
    pub async fn cancel_order(
        &self,
        order_id: &str,
        params: &CancelOrderV2Params,
    ) -> Result<CancelOrderV2Response, RestError> {
        let call = Call::new(Endpoint::CancelOrder)
            .param(order_id)
            .query(params)?
            .order_id(order_id);
        self.call_json(call).await
    }

    /// Cancel many orders, split into requests that each fit the write bucket; every part
    /// waits in the cancel lane. One result per order, in order.
    pub async fn batch_cancel_orders(
        &self,
        orders: Vec<BatchCancelOrderV2>,
    ) -> Vec<Result<BatchCancelOrderV2Result, RestError>> {
        let endpoint = Endpoint::BatchCancelOrders;
        let max_items = self.limiter().max_batch_items(endpoint.route(), true);
        let mut results = Vec::with_capacity(orders.len());
        for chunk in split_batch(orders, max_items) {
            let order_ids: Vec<String> = chunk.iter().map(|o| o.order_id.clone()).collect();
            let items = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            let call = Call::new(endpoint)
                .json(&BatchCancelOrdersV2Request { orders: chunk })
                .map(|call| call.items(items));
            let answer = match call {
                Ok(call) => self.execute(&call).await,
                Err(error) => Err(error),
            };
            let decoded = answer.and_then(|answer| {
                serde_json::from_slice::<BatchCancelOrdersV2Response>(&answer.body)
                    .map(|decoded| (answer.status, decoded))
                    .map_err(|error| RestError::Decode {
                        what: format!("{} response", endpoint.name()),
                        error: error.to_string(),
                    })
            });
            match decoded {
                Ok((status, decoded)) => {
                    let mut answered = decoded.orders;
                    for order_id in &order_ids {
                        let found = answered.iter().position(|r| r.order_id == *order_id);
                        results.push(match found {
                            Some(index) => cancel_item(status, answered.swap_remove(index)),
                            None => Err(RestError::Decode {
                                what: format!("{} response", endpoint.name()),
                                error: format!("order {order_id} missing from the answer"),
                            }),
                        });
                    }
                }
                Err(error) => results.extend(order_ids.iter().map(|_| Err(error.clone()))),
            }
        }
        results
    }

    /// Cancel every resting order (all subaccounts when `subaccount` is `None`): 204.
    /// Kalshi may also cancel orders placed in the minute after it.
    pub async fn cancel_all_orders(&self, subaccount: Option<u32>) -> Result<(), RestError> {
        let call =
            Call::new(Endpoint::CancelAllOrders).query(&CancelAllOrdersParams { subaccount })?;
        self.call_empty(call).await
    }

    /// Amend price and/or size (`count` is the new total: filled + wanted remaining). Fails
    /// fast on budget; a lost answer is `Unknown` (by `updated_client_order_id`, else
    /// `client_order_id`) and is never re-sent.
    pub async fn amend_order(
        &self,
        order_id: &str,
        amend: &AmendOrderV2Request,
        subaccount: Option<u32>,
    ) -> Result<AmendOrderV2Response, RestError> {
        let client_order_id = amend
            .updated_client_order_id
            .clone()
            .or_else(|| amend.client_order_id.clone());
        let call = Call::new(Endpoint::AmendOrder)
            .param(order_id)
            .query(&SubaccountParams { subaccount })?
            .json(amend)?
            .client_order_id(client_order_id)
            .order_id(order_id);
        self.call_json(call).await
    }

    /// Shrink a resting order. Uses the cancel lane (it only reduces risk). `reduce_to` is
    /// idempotent and retried; a lost `reduce_by` is `Unknown`, since a second copy would
    /// reduce twice.
    pub async fn decrease_order(
        &self,
        order_id: &str,
        decrease: &DecreaseOrderV2Request,
        subaccount: Option<u32>,
    ) -> Result<DecreaseOrderV2Response, RestError> {
        let mut call = Call::new(Endpoint::DecreaseOrder)
            .param(order_id)
            .query(&SubaccountParams { subaccount })?
            .json(decrease)?
            .order_id(order_id);
        if decrease.reduce_to.is_none() {
            call = call.never_resend();
        }
        self.call_json(call).await
    }

    pub async fn order_groups(
        &self,
        subaccount: Option<u32>,
    ) -> Result<GetOrderGroupsResponse, RestError> {
        self.call_json(Call::new(Endpoint::OrderGroups).query(&SubaccountParams { subaccount })?)
            .await
    }

    pub async fn order_group(
        &self,
        order_group_id: &str,
        subaccount: Option<u32>,
    ) -> Result<GetOrderGroupResponse, RestError> {
        let call = Call::new(Endpoint::OrderGroup)
            .param(order_group_id)
            .query(&SubaccountParams { subaccount })?;
        self.call_json(call).await
    }

    /// Create an order group. Not idempotent: a lost answer is `Unknown`.
    pub async fn create_order_group(
        &self,
        request: &CreateOrderGroupRequest,
    ) -> Result<CreateOrderGroupResponse, RestError> {
        self.call_json(Call::new(Endpoint::CreateOrderGroup).json(request)?)
            .await
    }

    /// Delete a group and cancel its orders.
    pub async fn delete_order_group(
        &self,
        order_group_id: &str,
        params: &OrderGroupWriteParams,
    ) -> Result<(), RestError> {
        let call = Call::new(Endpoint::DeleteOrderGroup)
            .param(order_group_id)
            .query(params)?;
        self.call_empty(call).await
    }

    pub async fn reset_order_group(
        &self,
        order_group_id: &str,
        params: &OrderGroupWriteParams,
    ) -> Result<(), RestError> {
        let call = Call::new(Endpoint::ResetOrderGroup)
            .param(order_group_id)
            .query(params)?
            .json(&serde_json::Map::new())?;
        self.call_empty(call).await
    }

    /// Trigger a group: the exchange cancels its orders and blocks new ones until reset.
    pub async fn trigger_order_group(
        &self,
        order_group_id: &str,
        params: &OrderGroupWriteParams,
    ) -> Result<(), RestError> {
        let call = Call::new(Endpoint::TriggerOrderGroup)
            .param(order_group_id)
            .query(params)?
            .json(&serde_json::Map::new())?;
        self.call_empty(call).await
    }

    pub async fn update_order_group_limit(
        &self,
        order_group_id: &str,
        limit: &UpdateOrderGroupLimitRequest,
        params: &OrderGroupWriteParams,
    ) -> Result<(), RestError> {
        let call = Call::new(Endpoint::UpdateOrderGroupLimit)
            .param(order_group_id)
            .query(params)?
            .json(limit)?;
        self.call_empty(call).await
    }
}

fn create_item(
    status: u16,
    mut result: BatchCreateOrderV2Result,
) -> Result<BatchCreateOrderV2Result, RestError> {
    match result.error.take() {
        Some(error) => Err(item_error(Endpoint::BatchCreateOrders, status, error)),
        None => Ok(result),
    }
}

fn cancel_item(
    status: u16,
    mut result: BatchCancelOrderV2Result,
) -> Result<BatchCancelOrderV2Result, RestError> {
    match result.error.take() {
        Some(error) => Err(item_error(Endpoint::BatchCancelOrders, status, error)),
        None => Ok(result),
    }
}
