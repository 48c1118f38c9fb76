-- Tables of the benchmark, created by bench/run after "outbox-relay migrate".
-- bench_orders contains the business row of each order transaction. bench_polling_outbox is the
-- copy of the outbox that the polling peer reads. It adds the sequence and the published_at column
-- that a polling relay needs, so public.outbox_events stays exactly as the relay ships it.
CREATE TABLE public.bench_orders (
    id         text        PRIMARY KEY,
    customer   text        NOT NULL,
    total      numeric     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.bench_polling_outbox (
    seq               bigserial   PRIMARY KEY,
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    event_type        text        NOT NULL,
    aggregate_type    text        NOT NULL,
    aggregate_id      text        NOT NULL,
    aggregate_version bigint      NOT NULL,
    event_data        jsonb       NOT NULL,
    metadata          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    correlation_id    text        NOT NULL,
    causation_id      text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text        NOT NULL DEFAULT current_user,
    published_at      timestamptz
);

-- The poller's query reads unpublished rows in sequence order; a partial index keeps that scan
-- proportional to the backlog instead of to the table.
CREATE INDEX bench_polling_outbox_unpublished ON public.bench_polling_outbox (seq) WHERE published_at IS NULL;
