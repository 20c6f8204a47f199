/**
 * The demo catalog of an online university: 32 lectures by 6 instructors. Prices in KRW,
 * capacities in seats. Loaded by `npm start` (scripts/seed.ts) through the public API.
 */
export interface CatalogLecture {
  title: string;
  capacity: number;
  price: number;
}

/** Instructor user id (JWT `sub`) → their lectures. */
export const CATALOG: Record<string, CatalogLecture[]> = {
  'i-kim': [
    { title: 'Introduction to Computer Science', capacity: 120, price: 99_000 },
    { title: 'Data Structures', capacity: 80, price: 129_000 },
    { title: 'Algorithms: Design and Analysis', capacity: 60, price: 149_000 },
    { title: 'Discrete Mathematics for Computing', capacity: 90, price: 89_000 },
    { title: 'Theory of Computation', capacity: 40, price: 139_000 },
    { title: 'Competitive Programming Workshop', capacity: 25, price: 59_000 },
  ],
  'i-lee': [
    { title: 'Database Systems', capacity: 70, price: 139_000 },
    { title: 'Distributed Systems', capacity: 50, price: 169_000 },
    { title: 'Cloud-Native Architecture with Kubernetes', capacity: 45, price: 189_000 },
    { title: 'Event-Driven Microservices', capacity: 40, price: 179_000 },
    { title: 'Site Reliability Engineering', capacity: 35, price: 159_000 },
  ],
  'i-park': [
    { title: 'Linear Algebra', capacity: 100, price: 79_000 },
    { title: 'Probability and Statistics', capacity: 100, price: 79_000 },
    { title: 'Machine Learning Foundations', capacity: 80, price: 199_000 },
    { title: 'Deep Learning', capacity: 60, price: 229_000 },
    { title: 'Natural Language Processing', capacity: 40, price: 219_000 },
    { title: 'Computer Vision', capacity: 40, price: 219_000 },
  ],
  'i-choi': [
    { title: 'Web Development with TypeScript', capacity: 90, price: 119_000 },
    { title: 'GraphQL APIs and Federation', capacity: 50, price: 149_000 },
    { title: 'Mobile App Development', capacity: 60, price: 139_000 },
    { title: 'User Experience Design', capacity: 45, price: 109_000 },
    { title: 'Software Testing and Quality', capacity: 50, price: 99_000 },
  ],
  'i-jung': [
    { title: 'Operating Systems', capacity: 70, price: 149_000 },
    { title: 'Computer Networks', capacity: 70, price: 139_000 },
    { title: 'Computer Architecture', capacity: 60, price: 139_000 },
    { title: 'Information Security', capacity: 50, price: 169_000 },
    { title: 'Embedded Systems Programming', capacity: 30, price: 159_000 },
  ],
  'i-yoon': [
    { title: 'Business Korean for Engineers', capacity: 30, price: 49_000 },
    { title: 'Technical Writing', capacity: 40, price: 39_000 },
    { title: 'Product Management', capacity: 50, price: 129_000 },
    { title: 'Entrepreneurship and Startups', capacity: 60, price: 99_000 },
    { title: 'Ethics in Computing', capacity: 80, price: 0 },
  ],
};
