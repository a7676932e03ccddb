// Alarms on what loses data if nobody looks: a queue that grows (sinks failing, workers not
// scheduled), readings getting old (Timestream refuses what is older than its memory store),
// store memory near maxmemory (past it allkeys-lru would evict queues) and any eviction at all.
// Depth and age come from the monitor task's `iotbuf status --watch --json` lines via metric
// filters; memory and evictions are ElastiCache's own metrics, per node.
import { Duration } from 'aws-cdk-lib'
import * as cw from 'aws-cdk-lib/aws-cloudwatch'
import * as logs from 'aws-cdk-lib/aws-logs'
import type { Construct } from 'constructs'

const NAMESPACE = 'iotbuf'

export interface AlarmOptions {
  logGroup: logs.ILogGroup
  replicationGroupId: string
  shards: number
  replicas: number
  /** readings buffered (default 1,000,000) */
  maxDepth?: number
  /** age of the oldest buffered reading (default 15 min) */
  maxAge?: Duration
}

export function addAlarms(scope: Construct, o: AlarmOptions): cw.Alarm[] {
  const fromStatus = (id: string, metricName: string, jsonPath: string) => {
    new logs.MetricFilter(scope, `${id}Filter`, {
      logGroup: o.logGroup, metricNamespace: NAMESPACE, metricName,
      filterPattern: logs.FilterPattern.exists(jsonPath), metricValue: jsonPath,
    })
    return new cw.Metric({ namespace: NAMESPACE, metricName, statistic: 'Maximum', period: Duration.minutes(1) })
  }
  const alarms = [
    new cw.Alarm(scope, 'QueueDepthAlarm', {
      alarmDescription: 'iotbuf: readings waiting in the buffer (iotbuf status: totals.depth)',
      metric: fromStatus('QueueDepth', 'QueueDepth', '$.totals.depth'),
      threshold: o.maxDepth ?? 1_000_000, evaluationPeriods: 5, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // no status line means nobody is watching the buffer: that is an alarm too
      treatMissingData: cw.TreatMissingData.BREACHING,
    }),
    new cw.Alarm(scope, 'OldestReadingAlarm', {
      alarmDescription: 'iotbuf: age of the oldest buffered reading in ms (iotbuf status: totals.oldestAgeMs)',
      metric: fromStatus('OldestAge', 'OldestReadingAgeMs', '$.totals.oldestAgeMs'),
      threshold: (o.maxAge ?? Duration.minutes(15)).toMilliseconds(), evaluationPeriods: 3,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cw.TreatMissingData.BREACHING,
    }),
  ]
  // cluster-mode node ids are <group>-<shard 0001…>-<node 001…>; a failover swaps roles, not ids
  const nodes: string[] = []
  for (let s = 1; s <= o.shards; s++) for (let n = 1; n <= 1 + o.replicas; n++) nodes.push(`${o.replicationGroupId}-${String(s).padStart(4, '0')}-${String(n).padStart(3, '0')}`)
  const perNode = (metricName: string, statistic: string) => Object.fromEntries(nodes.map((id, i) => [`n${i}`, new cw.Metric({
    namespace: 'AWS/ElastiCache', metricName, dimensionsMap: { CacheClusterId: id }, statistic, period: Duration.minutes(1),
  })]))
  alarms.push(new cw.Alarm(scope, 'StoreMemoryAlarm', {
    alarmDescription: 'iotbuf: a buffer node is past 80% of maxmemory (brokers apply IOTBUF_OVERFLOW at 85%)',
    metric: new cw.MathExpression({ expression: `MAX([${nodes.map((_, i) => `n${i}`).join(',')}])`, usingMetrics: perNode('DatabaseMemoryUsagePercentage', 'Maximum'), period: Duration.minutes(1), label: 'max memory %' }),
    threshold: 80, evaluationPeriods: 3, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
  }))
  alarms.push(new cw.Alarm(scope, 'StoreEvictionsAlarm', {
    alarmDescription: 'iotbuf: the buffer evicted keys (allkeys-lru): fine for the latest-value cache, data loss if a queue goes',
    metric: new cw.MathExpression({ expression: `SUM([${nodes.map((_, i) => `n${i}`).join(',')}])`, usingMetrics: perNode('Evictions', 'Sum'), period: Duration.minutes(1), label: 'evictions' }),
    threshold: 0, evaluationPeriods: 1, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cw.TreatMissingData.NOT_BREACHING,
  }))
  return alarms
}
