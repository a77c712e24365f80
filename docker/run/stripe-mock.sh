#!/usr/bin/env bash
# stripe-mock v0.195.0 on :12111 (STACK_STRIPE_MOCK_PORT): the payments pages' Stripe API.
set -euo pipefail

exec stripe-mock -port 12111
