namespace Loadwise.Redis;

/// <summary>
/// The quota scripts. Each dimension of a node is one hash (<c>w</c>: the current fixed window's index, <c>c</c>: its
/// total, <c>p</c>: the previous window's total), all in the node's hash slot. Usage over the last window length is
/// estimated as in <see cref="NodeQuota"/>: <c>p × (1 − elapsed/window) + c</c>. Time is Redis's own (<c>TIME</c>), so
/// instances with skewed clocks agree on the window.
/// </summary>
internal static class QuotaScripts
{
    /// <summary>Per dimension, 7 arguments: limit, window ms, need, ask, give-back, give-back's window, unit (<see cref="QuotaUnit"/>).</summary>
    public const int ArgumentsPerDimension = 7;

    /// <summary>
    /// Returns unused lease first (to the window it was taken in, when still current or previous), then admits when
    /// every dimension has room for its need, taking up to its ask (a lease) from each. A manual dimension (need 0)
    /// admits while it has any room. Replies <c>{admitted, redis ms, then per dimension: window index, taken}</c>
    /// (amounts as strings: integer replies would truncate them).
    /// </summary>
    public const string Charge = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local n = #KEYS
        local st = {}
        local fits = true
        for i = 1, n do
          local b = (i - 1) * 7
          local limit = tonumber(ARGV[b + 1])
          local win = tonumber(ARGV[b + 2])
          local need = tonumber(ARGV[b + 3])
          local give = tonumber(ARGV[b + 5])
          local gw = tonumber(ARGV[b + 6])
          local w = math.floor(now / win)
          local h = redis.call('HMGET', KEYS[i], 'w', 'c', 'p')
          local sw = tonumber(h[1])
          local c = tonumber(h[2]) or 0
          local p = tonumber(h[3]) or 0
          if sw == nil or sw < w - 1 then p = 0; c = 0 elseif sw == w - 1 then p = c; c = 0 end
          if give > 0 then
            if gw == w then c = math.max(0, c - give) elseif gw == w - 1 then p = math.max(0, p - give) end
          end
          local room = limit - (p * (1 - (now - w * win) / win) + c)
          if room < need or (ARGV[b + 7] == '2' and room <= 0) then fits = false end
          st[i] = {w, c, p, room, win}
        end
        local reply = {0, now}
        if fits then reply[1] = 1 end
        for i = 1, n do
          local b = (i - 1) * 7
          local take = 0
          if fits then
            take = math.max(tonumber(ARGV[b + 3]), math.min(tonumber(ARGV[b + 4]), st[i][4]))
            if ARGV[b + 7] == '0' then take = math.floor(take) end
          end
          redis.call('HSET', KEYS[i], 'w', st[i][1], 'c', st[i][2] + take, 'p', st[i][3])
          redis.call('PEXPIRE', KEYS[i], st[i][5] * 2)
          reply[#reply + 1] = st[i][1]
          reply[#reply + 1] = tostring(take)
        end
        return reply
        """;

    /// <summary>Per dimension, 3 arguments: delta, the charge's window index, window ms.</summary>
    public const int CorrectArgumentsPerDimension = 3;

    /// <summary>Adds a correction to the window its charge landed in (current or previous); older ones are dropped.</summary>
    public const string Correct = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        for i = 1, #KEYS do
          local b = (i - 1) * 3
          local delta = tonumber(ARGV[b + 1])
          local cw = tonumber(ARGV[b + 2])
          local win = tonumber(ARGV[b + 3])
          local w = math.floor(now / win)
          local h = redis.call('HMGET', KEYS[i], 'w', 'c', 'p')
          local sw = tonumber(h[1])
          if sw ~= nil then
            local c = tonumber(h[2]) or 0
            local p = tonumber(h[3]) or 0
            if sw < w - 1 then p = 0; c = 0 elseif sw == w - 1 then p = c; c = 0 end
            if cw == w then c = math.max(0, c + delta) elseif cw == w - 1 then p = math.max(0, p + delta) end
            redis.call('HSET', KEYS[i], 'w', w, 'c', c, 'p', p)
            redis.call('PEXPIRE', KEYS[i], win * 2)
          end
        end
        return 1
        """;
}
