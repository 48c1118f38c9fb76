/**
 * Session settings for every connection the relay opens. The walsender prints row values with
 * these, so pinning them makes timestamptz text UTC and ISO whatever the server's defaults are.
 */
export const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3 -c client_encoding=UTF8';

export const APPLICATION_NAME = 'outbox-relay';
