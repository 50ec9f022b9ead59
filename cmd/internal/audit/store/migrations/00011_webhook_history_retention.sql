-- Webhook delivery history retention: finished deliveries are found by their last activity.

-- +goose Up
CREATE INDEX webhook_delivery_finished ON webhook_delivery (updated_ns) WHERE status <> 'PENDING';

-- +goose Down
DROP INDEX webhook_delivery_finished;
