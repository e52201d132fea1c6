-- Issue 11: event_type takes the ten wealth-event families of uhnw.relevance.EVENT_TYPES (documented in nbs/32_relevance.ipynb).
-- Alerts written before carry the old names; they are mapped here so history reads in one vocabulary.
update alerts set event_type = case event_type
    when 'liquidity_event' then 'liquidity' when 'litigation' then 'legal_regulatory' when 'succession' then 'family_succession'
    when 'property' then 'large_purchase' when 'key_person' then 'leadership_change' else event_type end
where event_type in ('liquidity_event', 'litigation', 'succession', 'property', 'key_person');
comment on column alerts.event_type is 'EnrichedAlert.event_type: liquidity, m_and_a, legal_regulatory, family_succession, residence_tax, philanthropy, large_purchase, business_distress, leadership_change, family_office_fund, or other';
