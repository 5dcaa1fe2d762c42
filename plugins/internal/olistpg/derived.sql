-- One row per order with the types the Olist CSVs lack: uuid, json, jsonb,
-- arrays, unconstrained numeric, bigint, date, boolean, bytea.
CREATE TABLE order_facts (
  order_id text PRIMARY KEY,
  order_uuid uuid NOT NULL,
  attrs jsonb NOT NULL,
  raw json,
  item_prices numeric(10,2)[],
  product_ids text[],
  item_numbers integer[],
  item_count bigint NOT NULL,
  total numeric,
  purchase_date date,
  delivered boolean,
  digest bytea,
  updated_at timestamptz NOT NULL
);
INSERT INTO order_facts
SELECT o.order_id,
       md5(o.order_id)::uuid,
       jsonb_build_object('status', o.order_status, 'customer', o.customer_id, 'items', count(i.order_item_id)),
       json_build_object('purchased', o.order_purchase_timestamp),
       array_agg(i.price ORDER BY i.order_item_id) FILTER (WHERE i.order_id IS NOT NULL),
       array_agg(i.product_id ORDER BY i.order_item_id) FILTER (WHERE i.order_id IS NOT NULL),
       array_agg(i.order_item_id::integer ORDER BY i.order_item_id) FILTER (WHERE i.order_id IS NOT NULL),
       count(i.order_item_id),
       sum(i.price + i.freight_value) / 3,
       o.order_purchase_timestamp::date,
       o.order_status = 'delivered',
       decode(md5(o.order_id), 'hex'),
       o.order_purchase_timestamp
FROM orders o LEFT JOIN order_items i USING (order_id)
GROUP BY o.order_id;

-- A view: no primary key, no ctid; read in one go.
CREATE VIEW delivered_orders AS
SELECT order_id, customer_id, order_purchase_timestamp, order_delivered_customer_date
FROM orders WHERE order_status = 'delivered';
