/** Confluent subject name strategies, named as in the Java serializers' value.subject.name.strategy. */
export const SUBJECT_NAME_STRATEGIES = ['TopicNameStrategy', 'RecordNameStrategy', 'TopicRecordNameStrategy'] as const;
export type SubjectNameStrategy = (typeof SUBJECT_NAME_STRATEGIES)[number];

/** Compatibility levels that a Confluent-compatible registry accepts in PUT /config/{subject}. */
export const COMPATIBILITY_LEVELS = ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

/** Returns the subject of a record value, as the Confluent serializers name it. */
export function subjectFor(strategy: SubjectNameStrategy, topic: string, recordFullName: string): string {
  switch (strategy) {
    case 'TopicNameStrategy':
      return `${topic}-value`;
    case 'RecordNameStrategy':
      return recordFullName;
    case 'TopicRecordNameStrategy':
      return `${topic}-${recordFullName}`;
  }
}

/** Returns whether the subject depends on the topic, which for some event types is known only per event. */
export function usesTopic(strategy: SubjectNameStrategy): boolean {
  return strategy !== 'RecordNameStrategy';
}
