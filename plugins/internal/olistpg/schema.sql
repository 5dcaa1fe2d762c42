-- The Olist sample with real types, for the postgres connector's tests and
-- benchmark. Timestamps are loaded in UTC.
CREATE TABLE customers (
  customer_id text PRIMARY KEY,
  customer_unique_id text NOT NULL,
  customer_zip_code_prefix varchar(5),
  customer_city text,
  customer_state char(2)
);
CREATE TABLE orders (
  order_id text PRIMARY KEY,
  customer_id text NOT NULL,
  order_status text NOT NULL,
  order_purchase_timestamp timestamptz NOT NULL,
  order_approved_at timestamptz,
  order_delivered_carrier_date timestamptz,
  order_delivered_customer_date timestamptz,
  order_estimated_delivery_date timestamp
);
CREATE TABLE order_items (
  order_id text NOT NULL,
  order_item_id smallint NOT NULL,
  product_id text NOT NULL,
  seller_id text NOT NULL,
  shipping_limit_date timestamp,
  price numeric(10,2) NOT NULL,
  freight_value numeric(10,2) NOT NULL,
  PRIMARY KEY (order_id, order_item_id)
);
CREATE TABLE order_payments (
  order_id text NOT NULL,
  payment_sequential integer NOT NULL,
  payment_type text NOT NULL,
  payment_installments integer NOT NULL,
  payment_value numeric(12,2) NOT NULL,
  PRIMARY KEY (order_id, payment_sequential)
);
-- No primary key: read in ctid order. Comments keep their line breaks.
CREATE TABLE order_reviews (
  review_id text NOT NULL,
  order_id text NOT NULL,
  review_score smallint,
  review_comment_title text,
  review_comment_message text,
  review_creation_date timestamp,
  review_answer_timestamp timestamp
);
CREATE TABLE geolocation (
  geolocation_zip_code_prefix varchar(5),
  geolocation_lat double precision,
  geolocation_lng double precision,
  geolocation_city text,
  geolocation_state char(2)
);
